"""ReplayKernelTest as users meet it: through 'avocado list' and 'avocado run'."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import qemu_pids_with

ROOT = Path(__file__).resolve().parents[2]
AVOCADO = [sys.executable, "-m", "avocado"]
ENV = dict(os.environ, PYTHONPATH=str(ROOT))


def avocado(*args, timeout=600):
    return subprocess.run(AVOCADO + list(args), capture_output=True,
                          text=True, cwd=ROOT, env=ENV, timeout=timeout)


def test_suite_lists_at_least_ten_cases_with_tags():
    res = avocado("-V", "list", "tests/avocado/replay_kernel.py")
    assert res.returncode == 0, res.stderr
    tests = [line for line in res.stdout.splitlines()
             if line.startswith("avocado-rr-instrumented")]
    assert len(tests) >= 10, res.stdout
    archs = {line.split("arch(")[1].split(")")[0] for line in tests
             if "arch(" in line}
    assert {"x86_64", "i386", "aarch64", "arm", "ppc64", "s390x",
            "mips64el", "mipsel"} <= archs


def test_timeout_leaves_no_qemu(tmp_path):
    """Avocado does not kill a test's children on timeout; we must."""
    res = avocado("run", "--disable-sysinfo", "--job-results-dir",
                  str(tmp_path), "-p", "timeout=4",
                  "tests/avocado/replay_kernel.py:X86_64Pc")
    assert res.returncode == 8, res.stdout + res.stderr   # INTERRUPTED
    assert qemu_pids_with(str(tmp_path)) == []
    results = json.load(open(tmp_path / "latest" / "results.json"))
    test = results["tests"][0]
    assert test["status"] == "INTERRUPTED"
    data = Path(test["logdir"]) / "data"
    # what the interrupted recording left is kept for a post-mortem
    assert (data / "record-cmdline.txt").exists()


def test_ctrl_c_leaves_no_qemu(tmp_path):
    """Ctrl-C on 'avocado run' in the middle of a recording."""
    proc = subprocess.Popen(
        AVOCADO + ["run", "--disable-sysinfo", "--job-results-dir",
                   str(tmp_path), "tests/avocado/replay_kernel.py:X86_64Pc"],
        cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not qemu_pids_with(str(tmp_path)):
            assert proc.poll() is None and time.monotonic() < deadline, \
                "no recording QEMU appeared"
            time.sleep(0.1)
        time.sleep(1)
        # a terminal's Ctrl-C goes to the whole foreground process group
        os.killpg(proc.pid, signal.SIGINT)
        output, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode != 0, output
    assert "Interrupted" in output or "INTERRUPT" in output, output
    deadline = time.monotonic() + 10
    while qemu_pids_with(str(tmp_path)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert qemu_pids_with(str(tmp_path)) == []
