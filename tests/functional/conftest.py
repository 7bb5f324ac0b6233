"""Fixtures for tests that run real QEMU on real Debian kernels."""

import os
import signal
import subprocess

import pytest

from avocado_rr import assets, reaper
from avocado_rr.pair import BootSpec
from avocado_rr.qemu_binary import find_qemu

#: x86_64 pc, Debian's cloud kernel, stopped at an early console line:
#: the quickest real boot we have (about a second per phase)
X86_APPEND = "console=ttyS0 panic=-1 printk.time=0"
X86_PATTERN = "Kernel command line"


@pytest.fixture(scope="session")
def qemu_x86_64():
    return find_qemu("x86_64")


@pytest.fixture(scope="session")
def x86_spec():
    kernel = os.fspath(assets.resolve_asset("kernel-x86_64"))
    return BootSpec(arch="x86_64", machine="pc", kernel=kernel,
                    append=X86_APPEND, shift=7)


def qemu_pids_with(marker: str) -> list[int]:
    """PIDs of qemu-system processes whose command line mentions marker."""
    out = subprocess.run(["pgrep", "-f", "-a", "qemu-system"],
                         capture_output=True, text=True).stdout
    return [int(line.split()[0]) for line in out.splitlines()
            if marker in line]


def sigint_as_in_a_terminal() -> None:
    """``preexec_fn``: SIGINT at its default, as in the foreground job a
    terminal's Ctrl-C reaches.

    A test run that a script started in the background (``make check &``
    from a shell without job control, or under ``nohup``) has SIGINT
    ignored, exec keeps it ignored, and Python then never turns it into
    KeyboardInterrupt: a process the tests start to be Ctrl-C'd must not
    inherit that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture(autouse=True)
def no_qemu_left(tmp_path):
    """Every test must leave no QEMU behind (checked by its temp dir)."""
    yield
    assert reaper.live_pids() == []
    assert qemu_pids_with(str(tmp_path)) == []
