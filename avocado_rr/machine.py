"""Launch one QEMU process with a QMP connection and a file console.

:class:`QemuMachine` starts QEMU from an argv list (never a shell
string), connects to its QMP monitor with ``qemu.qmp`` over a UNIX socket
in a short private directory (Avocado's work dirs are too long for
AF_UNIX), and guarantees the process is gone when the machine is closed.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
import time
from contextlib import contextmanager
from typing import Any, Iterator

from qemu.qmp import ConnectError, ExecuteError, QMPError
from qemu.qmp.legacy import QEMUMonitorProtocol

from avocado_rr import reaper
from avocado_rr.errors import AvocadoRRError

LOG = logging.getLogger("avocado_rr.machine")


class MachineError(AvocadoRRError):
    """QEMU could not be started, or died where it should not."""

    def __init__(self, message: str, exitcode: int | None = None,
                 stderr: str = ""):
        if stderr:
            message = f"{message}\nQEMU stderr:\n{stderr.rstrip()}"
        super().__init__(message)
        self.exitcode = exitcode
        self.stderr = stderr


class QemuMachine:
    """One QEMU process.

    :param argv: the full command line, binary first, *without* the QMP
                 options (the machine adds them)
    :param logdir: where ``<name>-stderr.log`` (and stdout) are written
    """

    def __init__(self, argv: list[str], logdir: str | os.PathLike,
                 name: str = "qemu"):
        self.base_argv = list(argv)
        self.logdir = os.fspath(logdir)
        self.name = name
        self._sockdir = tempfile.mkdtemp(prefix="rr-")
        self.qmp_path = os.path.join(self._sockdir, "qmp.sock")
        self.stderr_path = os.path.join(self.logdir, f"{name}-stderr.log")
        self.stdout_path = os.path.join(self.logdir, f"{name}-stdout.log")
        self.proc: subprocess.Popen | None = None
        self._qmp: QEMUMonitorProtocol | None = None
        #: seconds to wait for each QMP answer (None: forever)
        self._qmp_timeout: float | None = 30.0

    @property
    def argv(self) -> list[str]:
        """The command line as launched (QMP options included)."""
        return self.base_argv + qmp_args(self.qmp_path)

    def launch(self, connect_timeout: float = 30.0) -> None:
        """Start QEMU and connect to its QMP monitor.

        :raises MachineError: if QEMU exits before QMP answers.
        """
        os.makedirs(self.logdir, exist_ok=True)
        LOG.info("%s: %s", self.name, " ".join(self.argv))
        with open(self.stdout_path, "wb") as out, \
                open(self.stderr_path, "wb") as err:
            try:
                self.proc = reaper.spawn(self.argv, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=err)
            except reaper.Orphaned as details:
                raise MachineError(f"{self.name}: {details}") from details
        try:
            self._connect(connect_timeout)
        except BaseException:
            self.kill()
            raise

    def _connect(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise MachineError(f"{self.name}: QEMU exited with "
                                   f"{self.proc.returncode} before QMP was up",
                                   self.proc.returncode, self.stderr)
            if os.path.exists(self.qmp_path):
                qmp = QEMUMonitorProtocol(self.qmp_path)
                try:
                    qmp.connect()
                except (ConnectError, OSError):
                    _close_quietly(qmp)
                else:
                    qmp.settimeout(self._qmp_timeout)
                    self._qmp = qmp
                    return
            if time.monotonic() > deadline:
                raise MachineError(f"{self.name}: no QMP connection within "
                                   f"{timeout}s", None, self.stderr)
            time.sleep(0.02)

    @property
    def stderr(self) -> str:
        """What QEMU wrote to stderr so far."""
        try:
            with open(self.stderr_path, "rb") as err:
                return err.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def is_running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def exitcode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def cmd(self, command: str, **args: Any) -> Any:
        """Run a QMP command and return its result.

        :raises ExecuteError: when QEMU answers with an error
        :raises MachineError: when there is no connection
        """
        if self._qmp is None:
            raise MachineError(f"{self.name}: QMP is not connected")
        try:
            return self._qmp.cmd(command, **args)
        except (ExecuteError, TimeoutError):
            raise
        except (QMPError, EOFError, OSError) as details:
            # the connection is gone: most likely QEMU exited
            try:
                self.proc.wait(1.0)
            except subprocess.TimeoutExpired:
                pass
            raise MachineError(f"{self.name}: QMP {command} failed "
                               f"({details!r}); QEMU exit code "
                               f"{self.exitcode}", self.exitcode,
                               self.stderr) from details

    def set_qmp_timeout(self, timeout: float | None) -> None:
        """Seconds to wait for each QMP answer (None: forever)."""
        self._qmp_timeout = timeout
        if self._qmp is not None:
            self._qmp.settimeout(timeout)

    @contextmanager
    def qmp_timeout(self, timeout: float | None) -> Iterator[None]:
        """Another QMP answer timeout for the commands of a ``with``."""
        previous = self._qmp_timeout
        self.set_qmp_timeout(timeout)
        try:
            yield
        finally:
            self.set_qmp_timeout(previous)

    def hmp(self, command_line: str) -> str:
        """The text of an HMP command (``human-monitor-command``)."""
        return self.cmd("human-monitor-command", **{"command-line":
                                                    command_line})

    def wait_event(self, name: str, timeout: float) -> dict | None:
        """Wait for QMP event ``name``; None on timeout or disconnect."""
        deadline = time.monotonic() + timeout
        while self._qmp is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                event = self._qmp.pull_event(wait=min(left, 0.2))
            except (QMPError, EOFError, OSError, TimeoutError):
                event = None
                if not self.is_running():
                    return None
            if event and event.get("event") == name:
                return event
        return None

    def quit(self, timeout: float = 30.0) -> int | None:
        """Ask QEMU to quit over QMP and wait for it; kill if it won't.

        :return: QEMU's exit code
        """
        if self.is_running() and self._qmp is not None:
            try:
                self._qmp.cmd("quit")
            except (QMPError, EOFError, OSError) as details:
                # QEMU may close the socket before answering
                LOG.debug("%s: quit: %r", self.name, details)
        return self.wait(timeout)

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait for QEMU to exit by itself; kill it after ``timeout``."""
        if self.proc is None:
            return None
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            LOG.info("%s: still running after %ss, killing", self.name,
                     timeout)
        return self.kill()

    def kill(self, grace: float = 2.0) -> int | None:
        """End QEMU now, close QMP, clean up.

        :param grace: seconds between SIGTERM (which lets a recording
                      finish its log) and SIGKILL; 0 kills at once
        """
        code = None
        if self.proc is not None:
            code = reaper.kill(self.proc, grace=grace)
        if self._qmp is not None:
            _close_quietly(self._qmp)
            self._qmp = None
        shutil.rmtree(self._sockdir, ignore_errors=True)
        return code

    def __enter__(self) -> "QemuMachine":
        return self

    def __exit__(self, *exc_info) -> None:
        self.kill()


def qmp_args(path: str) -> list[str]:
    """QEMU options for the QMP monitor socket at ``path``."""
    return ["-qmp", f"unix:{path},server=on,wait=off"]


def _close_quietly(qmp: QEMUMonitorProtocol) -> None:
    # after 'quit' QEMU closes the socket and close() may re-raise the
    # reader task's EOFError
    try:
        qmp.close()
    except (QMPError, EOFError, OSError, ExecuteError, RuntimeError):
        pass
