"""ReplayKernelTest as users meet it: through 'avocado list' and 'avocado run'."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import qemu_pids_with, sigint_as_in_a_terminal

from avocado_rr.guestram import SHM_DIR

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
    """Avocado does not kill a test's children on timeout; we must, and
    say where the pair was."""
    res = avocado("run", "--disable-sysinfo", "--job-results-dir",
                  str(tmp_path), "-p", "timeout=5",
                  "tests/avocado/replay_kernel.py:X86_64Pc")
    assert res.returncode == 8, res.stdout + res.stderr   # INTERRUPTED
    assert qemu_pids_with(str(tmp_path)) == []
    results = json.load(open(tmp_path / "latest" / "results.json"))
    test = results["tests"][0]
    assert test["status"] == "INTERRUPTED"
    data = Path(test["logdir"]) / "data"
    # what the interrupted pair left is kept for a post-mortem
    assert (data / "record-cmdline.txt").exists()
    assert (data / "replay.bin").stat().st_size > 0
    verdict = json.load(open(data / "verdict.json"))
    assert verdict["verdict"] == "timeout", verdict
    assert verdict["reason"].startswith(
        "Avocado's test timeout (5s) was reached"), verdict["reason"]
    if (data / "replay-cmdline.txt").exists():
        # the replay was under way: how far, and where in the log (a
        # replay the timeout ended before its first progress report
        # says so, and is placed at the log's start)
        if verdict["replay_icount"] is None:
            assert " during the replay, before it reported any progress " \
                in verdict["reason"], verdict["reason"]
        else:
            assert " during the replay, at icount " in verdict["reason"]
            assert 0 <= verdict["replay_icount"] <= \
                verdict["recorded_icount"]
        assert "log event" in verdict["reason"]
        assert (data / "report.txt").exists()
    else:
        # the recording was: its partial log, finished by the SIGTERM
        assert " while recording, before " in verdict["reason"]
        assert f"partial log {data / 'replay.bin'} kept" in verdict["reason"]
        assert "events up to icount" in verdict["reason"]


#: a kernel case that records and replays in about a second each
QUICK_CASE = '''
from avocado_rr.testing.kernel import ReplayKernelTest


class Quick(ReplayKernelTest):
    """:avocado: tags=arch:x86_64,machine:pc"""
    kernel, console_pattern = "kernel-x86_64", "Kernel command line"

    def test_record_replay(self):
        self.run_record_replay()
'''


#: the quick case recorded with a VM snapshot at its start
SNAPSHOT_CASE = '''

class QuickSnapshot(Quick):
    """:avocado: tags=arch:x86_64,machine:pc"""
    rrsnapshot = "init"
'''


def test_kernel_case_with_rrsnapshot_records_and_replays(tmp_path):
    """rrsnapshot on a kernel case: both phases run with
    ``-icount ...,rrsnapshot=init`` and the test's own empty qcow2 drive,
    which the recording's VM snapshot goes into (a kernel case has no
    writable disk to hold it), and the pair passes."""
    case = tmp_path / "quick.py"
    case.write_text(QUICK_CASE + SNAPSHOT_CASE)
    res = avocado("run", "--disable-sysinfo", "--job-results-dir",
                  str(tmp_path), f"{case}:QuickSnapshot")
    assert res.returncode == 0, res.stdout + res.stderr
    test = json.load(open(tmp_path / "latest" / "results.json"))["tests"][0]
    assert test["status"] == "PASS", test
    data = Path(test["logdir"]) / "data"
    assert json.load(open(data / "verdict.json"))["verdict"] == "pass"
    snapshot = data / "rrsnapshot.qcow2"
    for phase in ("record", "replay"):
        cmdline = (data / f"{phase}-cmdline.txt").read_text()
        assert f"rr={phase}," in cmdline and ",rrsnapshot=init" in cmdline
        assert f"file={snapshot},format=qcow2,if=none,id=rrsnap," in cmdline
    info = json.loads(subprocess.run(
        ["qemu-img", "info", "--output=json", "-U", str(snapshot)],
        capture_output=True, text=True, check=True).stdout)
    snapshots = info.get("snapshots", [])
    assert [s["name"] for s in snapshots] == ["init"]
    assert snapshots[0]["icount"] == 0 and snapshots[0]["vm-state-size"] > 0


def test_timeout_in_replay_says_where_the_replay_was(tmp_path):
    """The timeout strikes a replay that hangs (frozen with SIGSTOP, and no
    stall watchdog to end it first): the verdict is the replay's position.

    10 s: the engine's own limit per phase is at least 10 s, so Avocado's
    comes first however soon the replay starts."""
    case = tmp_path / "quick.py"
    case.write_text(QUICK_CASE)
    job = subprocess.Popen(
        AVOCADO + ["run", "--disable-sysinfo", "--job-results-dir",
                   str(tmp_path), "-p", "timeout=10", "-p",
                   "stall_timeout=600", f"{case}:Quick"],
        cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)
    try:
        deadline = time.monotonic() + 60
        replaying = []
        # freeze the replay once it has reported progress
        while not replaying:
            assert job.poll() is None and time.monotonic() < deadline, \
                "no replay progress"
            time.sleep(0.02)
            logs = list(tmp_path.glob("job-*/test-results/*/debug.log"))
            if logs and "replay progress: " in logs[0].read_text():
                replaying = [pid for pid in qemu_pids_with(str(tmp_path))
                             if b"rr=replay" in
                             Path(f"/proc/{pid}/cmdline").read_bytes()]
        os.kill(replaying[0], signal.SIGSTOP)
        output, _ = job.communicate(timeout=300)
    finally:
        if job.poll() is None:
            job.kill()
            job.wait()
    assert job.returncode == 8, output                     # INTERRUPTED
    assert qemu_pids_with(str(tmp_path)) == []
    test = json.load(open(tmp_path / "latest" / "results.json"))["tests"][0]
    assert test["status"] == "INTERRUPTED"
    data = Path(test["logdir"]) / "data"
    verdict = json.load(open(data / "verdict.json"))
    assert verdict["verdict"] == "timeout", verdict
    assert verdict["reason"].startswith(
        "Avocado's test timeout (10s) was reached during the replay, at "
        "icount "), verdict["reason"]
    assert 0 < verdict["replay_icount"] < verdict["recorded_icount"]
    assert (f"at icount {verdict['replay_icount']} of "
            f"{verdict['recorded_icount']}") in verdict["reason"]
    assert f"log event {verdict['event_index']} ({verdict['event_name']})" \
        in verdict["reason"]
    report = (data / "report.txt").read_text()
    assert "<== replay is here" in report
    # the pair's artifacts are all kept
    for name in ("replay.bin", "replay.bin.json", "replay.bin.console",
                 "record-cmdline.txt", "replay-cmdline.txt", "repro.sh"):
        assert (data / name).exists(), name


def _qemu_in(tmp_path, mode: str) -> list[int]:
    """PIDs of the QEMU processes of a job in ``tmp_path`` with ``rr=mode``."""
    pids = []
    for pid in qemu_pids_with(str(tmp_path)):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except FileNotFoundError:
            continue
        if f"rr={mode}".encode() in cmdline:
            pids.append(pid)
    return pids


@pytest.mark.parametrize("mode,delay", [("record", 0.0), ("record", 1.0),
                                        ("replay", 0.5)],
                         ids=["record-start", "record-1s", "replay"])
def test_ctrl_c_leaves_no_qemu(tmp_path, mode, delay):
    """Ctrl-C on 'avocado run' as the recording starts, a second into it,
    and during the replay: the job ends INTERRUPTED, and no QEMU and no
    guest RAM file in /dev/shm is left.

    The job is started as a terminal's foreground job is, with SIGINT at
    its default (:func:`conftest.sigint_as_in_a_terminal`): a test run
    from a script's background job would otherwise hand it SIGINT ignored,
    and no Ctrl-C could reach it."""
    proc = subprocess.Popen(
        AVOCADO + ["run", "--disable-sysinfo", "--job-results-dir",
                   str(tmp_path), "tests/avocado/replay_kernel.py:X86_64Pc"],
        cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,
        preexec_fn=sigint_as_in_a_terminal)
    shm_before = set(os.listdir(SHM_DIR))
    try:
        deadline = time.monotonic() + 120
        while not _qemu_in(tmp_path, mode):
            assert proc.poll() is None and time.monotonic() < deadline, \
                f"no {mode} QEMU appeared"
            time.sleep(0.02)
        time.sleep(delay)
        assert proc.poll() is None, "the job ended before the Ctrl-C"
        # a terminal's Ctrl-C goes to the whole foreground process group
        os.killpg(proc.pid, signal.SIGINT)
        output, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 8, output                     # INTERRUPTED
    assert "INTERRUPT 1" in output, output
    test = json.load(open(tmp_path / "latest" / "results.json"))["tests"][0]
    assert test["status"] == "INTERRUPTED", test
    deadline = time.monotonic() + 10
    while qemu_pids_with(str(tmp_path)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert qemu_pids_with(str(tmp_path)) == []
    assert [entry for entry in set(os.listdir(SHM_DIR)) - shm_before
            if entry.startswith("avocado-rr-")] == []
