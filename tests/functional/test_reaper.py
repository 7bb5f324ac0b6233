"""No QEMU outlives the process that started it, however that ends."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from contextlib import contextmanager

import pytest

from conftest import qemu_pids_with, sigint_as_in_a_terminal

LAUNCH = textwrap.dedent("""
    import sys, time
    from avocado_rr.machine import QemuMachine
    m = QemuMachine([sys.argv[1], "-nodefaults", "-display", "none",
                     "-machine", "none", "-S"], sys.argv[2], "victim")
    m.launch()
    print(m.proc.pid, flush=True)
    time.sleep(600)
""")


@contextmanager
def _victim(qemu_x86_64, tmp_path, preexec_fn=sigint_as_in_a_terminal):
    """A Python process that started a QEMU: (process, QEMU's pid); both
    are gone after the ``with``."""
    proc = subprocess.Popen([sys.executable, "-c", LAUNCH, qemu_x86_64.path,
                             str(tmp_path)], stdout=subprocess.PIPE, text=True,
                            preexec_fn=preexec_fn)
    try:
        qemu_pid = int(proc.stdout.readline())
        assert qemu_pids_with(str(tmp_path)) or qemu_pid  # it ran
        yield proc, qemu_pid
    finally:
        proc.kill()
        proc.wait()
        subprocess.run(["pkill", "-9", "-f", str(tmp_path)])


def _gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().split()[2] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM,
                                    signal.SIGINT])
def test_qemu_dies_with_its_parent(qemu_x86_64, tmp_path, signum):
    with _victim(qemu_x86_64, tmp_path) as (proc, qemu_pid):
        proc.send_signal(signum)
        proc.wait(10)
        assert _gone(qemu_pid), f"QEMU {qemu_pid} outlived its parent"


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def test_an_ignored_sigint_stays_ignored(qemu_x86_64, tmp_path):
    """Under nohup, or in a script's background job, SIGINT is ignored:
    the reaper must not turn it into a kill of QEMU (and the process goes
    on with its QEMU, as it was told to)."""
    with _victim(qemu_x86_64, tmp_path, _ignore_sigint) as (proc, qemu_pid):
        proc.send_signal(signal.SIGINT)
        time.sleep(1)
        assert proc.poll() is None, "an ignored SIGINT ended the process"
        assert not _gone(qemu_pid, timeout=0.5), \
            "an ignored SIGINT ended QEMU"
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
        assert _gone(qemu_pid), f"QEMU {qemu_pid} outlived its parent"


ORPHAN = textwrap.dedent("""
    import subprocess, sys
    # the middle process: starts the QEMU owner, reports its PIDs, waits
    owner = subprocess.Popen([sys.executable, "-c", sys.argv[1],
                              sys.argv[2], sys.argv[3]],
                             stdout=subprocess.PIPE, text=True)
    print(owner.pid, owner.stdout.readline().strip(), flush=True)
    owner.wait()
""")


def test_qemu_dies_when_its_owner_is_orphaned(qemu_x86_64, tmp_path):
    """Avocado may SIGKILL a test's runner: the test process, orphaned,
    must not leave its QEMU running."""
    middle = subprocess.Popen([sys.executable, "-c", ORPHAN, LAUNCH,
                               qemu_x86_64.path, str(tmp_path)],
                              stdout=subprocess.PIPE, text=True)
    owner_pid, qemu_pid = map(int, middle.stdout.readline().split())
    try:
        middle.kill()                  # the owner is re-parented
        middle.wait()
        assert _gone(qemu_pid), f"QEMU {qemu_pid} outlived its orphaned owner"
    finally:
        for pid in (owner_pid, qemu_pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


LAUNCH_WITH_RAM = textwrap.dedent("""
    import sys, time
    from avocado_rr.guestram import GuestRam
    from avocado_rr.machine import QemuMachine
    ram = GuestRam("16M", "victim")
    m = QemuMachine([sys.argv[1], "-nodefaults", "-display", "none",
                     "-machine", "none", "-S"] + ram.qemu_args()[:2],
                    sys.argv[2], "victim")
    m.launch()
    m.cmd("qom-get", path="/objects/rr-ram", property="size")
    print(m.proc.pid, flush=True)
    time.sleep(600)
""")


def _shm_victims() -> set[str]:
    return {entry for entry in os.listdir("/dev/shm")
            if entry.startswith("avocado-rr-victim-")}


def test_a_killed_owner_leaves_no_guest_ram_file(qemu_x86_64, tmp_path):
    """A test process killed while its QEMU runs (Avocado's timeout or
    interrupt ends it with SIGKILL) leaves no guest RAM file behind: the
    file QEMU opened never had a name in /dev/shm."""
    before = _shm_victims()
    proc = subprocess.Popen([sys.executable, "-c", LAUNCH_WITH_RAM,
                             qemu_x86_64.path, str(tmp_path)],
                            stdout=subprocess.PIPE, text=True)
    try:
        qemu_pid = int(proc.stdout.readline())   # QEMU has the file open
        assert _shm_victims() - before == set()
        proc.kill()
        proc.wait()
        assert _gone(qemu_pid), f"QEMU {qemu_pid} outlived its parent"
        assert _shm_victims() - before == set()
    finally:
        proc.kill()
        proc.wait()
        subprocess.run(["pkill", "-9", "-f", str(tmp_path)])
