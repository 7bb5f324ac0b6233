"""Make sure no QEMU process outlives the Python process that started it.

Three layers, because Avocado neither kills a test's children on timeout
nor stops the timed-out test thread:

* every child is started in its own session with ``PR_SET_PDEATHSIG``
  set to SIGKILL, so the kernel kills it when the starting thread's
  process dies, even by SIGKILL;
* every live child is kept in a registry that an ``atexit`` hook and a
  SIGTERM/SIGINT/SIGHUP handler drain (killing each process group); a
  signal this process was told to ignore (``nohup``, or a background job
  of a shell without job control, which ignores SIGINT) stays ignored:
  it ends neither this process nor its QEMU;
* a watcher thread kills the children when this process is orphaned
  (its parent, e.g. Avocado's runner, was SIGKILLed): nothing is left
  to report the test, so its QEMU must not run on, and no child is
  started after that (:class:`Orphaned`);
* the owners (:class:`avocado_rr.machine.QemuMachine`) kill their child
  in ``finally`` blocks and context-manager exits.
"""

from __future__ import annotations

import atexit
import ctypes
import logging
import os
import signal
import subprocess
import threading
import time
from typing import Callable

from avocado_rr.errors import AvocadoRRError

LOG = logging.getLogger("avocado_rr.reaper")

_PR_SET_PDEATHSIG = 1
_LIVE: dict[int, subprocess.Popen] = {}
_LOCK = threading.Lock()
_HANDLERS_INSTALLED = False
#: set once the watcher saw this process orphaned
_ORPHANED = threading.Event()
#: seconds between two checks of the parent process
ORPHAN_POLL = 0.5


def _set_pdeathsig() -> None:
    """Run in the child between fork and exec: die with the parent."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    # the parent may already be gone between fork() and prctl()
    if os.getppid() == 1:
        os._exit(1)


class Orphaned(AvocadoRRError):
    """This process lost its parent: it starts no more children."""


def spawn(argv: list[str], **popen_kwargs) -> subprocess.Popen:
    """Start ``argv`` as a reaped child: own session, dies with us.

    :raises Orphaned: the process that started us is gone
    """
    _install_handlers()
    with _LOCK:
        if _ORPHANED.is_set():
            raise Orphaned(f"not starting {argv[0]}: the process that "
                           f"started this one is gone")
        proc = subprocess.Popen(argv, start_new_session=True,
                                preexec_fn=_set_pdeathsig, **popen_kwargs)
        _LIVE[proc.pid] = proc
    return proc


def kill(proc: subprocess.Popen, grace: float = 0.0) -> int | None:
    """Kill ``proc`` and its process group, reap it, return its exit code.

    With ``grace`` > 0 a SIGTERM is sent first and SIGKILL only if the
    process is still alive after ``grace`` seconds.
    """
    try:
        if proc.poll() is None and grace > 0:
            _signal_group(proc, signal.SIGTERM)
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        if proc.poll() is None:
            _signal_group(proc, signal.SIGKILL)
            proc.wait()
        else:
            # the leader is gone; make sure nothing else of its group is left
            _signal_group(proc, signal.SIGKILL)
    finally:
        forget(proc)
    return proc.returncode


def forget(proc: subprocess.Popen) -> None:
    """Drop a reaped process from the registry."""
    with _LOCK:
        _LIVE.pop(proc.pid, None)


def live_pids() -> list[int]:
    """PIDs of the children still registered (for tests and diagnostics)."""
    with _LOCK:
        return [pid for pid, proc in _LIVE.items() if proc.poll() is None]


def kill_all() -> None:
    """Kill every registered child; used at exit and on fatal signals."""
    with _LOCK:
        procs = list(_LIVE.values())
    for proc in procs:
        try:
            kill(proc)
        except OSError as details:
            LOG.debug("could not kill %s: %s", proc.pid, details)


def _signal_group(proc: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(proc.pid, signum)
    except ProcessLookupError:
        pass
    except PermissionError:
        proc.send_signal(signum)


def _watch_parent(parent: int) -> None:
    """Kill the children once our parent is gone (we were re-parented)."""
    while True:
        time.sleep(ORPHAN_POLL)
        if os.getppid() != parent:
            LOG.info("parent %d is gone: killing our QEMU children", parent)
            with _LOCK:
                _ORPHANED.set()
            kill_all()
            return


def _chain(previous: Callable | int | None) -> Callable:
    """A handler that kills the children, then does what ``previous``
    (a handler, or SIG_DFL) would have done."""
    def handler(sig, frame):
        kill_all()
        if callable(previous):
            previous(sig, frame)
        else:
            signal.signal(sig, signal.SIG_DFL)
            os.kill(os.getpid(), sig)
    return handler


def _install_handlers() -> None:
    global _HANDLERS_INSTALLED
    if _HANDLERS_INSTALLED:
        return
    _HANDLERS_INSTALLED = True
    atexit.register(kill_all)
    threading.Thread(target=_watch_parent, args=(os.getppid(),),
                     name="avocado-rr-orphan-watch", daemon=True).start()
    if threading.current_thread() is not threading.main_thread():
        # signal handlers can only be set from the main thread; the
        # pdeathsig and atexit layers still apply
        return
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        previous = signal.getsignal(signum)
        if previous == signal.SIG_IGN:
            # a handler would end QEMU on a signal meant to be ignored,
            # and would give the children we exec SIG_DFL instead
            continue
        signal.signal(signum, _chain(previous))
