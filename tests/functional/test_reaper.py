"""No QEMU outlives the process that started it, however that ends."""

import signal
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import qemu_pids_with

LAUNCH = textwrap.dedent("""
    import sys, time
    from avocado_rr.machine import QemuMachine
    m = QemuMachine([sys.argv[1], "-nodefaults", "-display", "none",
                     "-machine", "none", "-S"], sys.argv[2], "victim")
    m.launch()
    print(m.proc.pid, flush=True)
    time.sleep(600)
""")


def _start_victim(qemu_x86_64, tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", LAUNCH, qemu_x86_64.path,
                             str(tmp_path)], stdout=subprocess.PIPE, text=True)
    qemu_pid = int(proc.stdout.readline())
    assert qemu_pids_with(str(tmp_path)) or qemu_pid  # it ran
    return proc, qemu_pid


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
    proc, qemu_pid = _start_victim(qemu_x86_64, tmp_path)
    try:
        proc.send_signal(signum)
        proc.wait(10)
        assert _gone(qemu_pid), f"QEMU {qemu_pid} outlived its parent"
    finally:
        proc.kill()
        proc.wait()
        subprocess.run(["pkill", "-9", "-f", str(tmp_path)])
