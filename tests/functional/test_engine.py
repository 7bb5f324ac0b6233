"""The record/replay engine on real QEMU: it passes what reproduces and
fails, with the right reason, what does not."""

import dataclasses
import os
import signal
import time
import json

import pytest

from avocado_rr import replaylog
from avocado_rr.engine import RecordReplay
from avocado_rr.pair import BootSpec, Recording
from conftest import X86_PATTERN


@pytest.fixture
def recording(qemu_x86_64, x86_spec, tmp_path):
    engine = RecordReplay(qemu_x86_64, tmp_path / "pair")
    return engine.record(x86_spec, X86_PATTERN, timeout=60)


def test_pair_passes_and_reconciles_icount(qemu_x86_64, recording, tmp_path):
    engine = RecordReplay(qemu_x86_64, tmp_path / "pair")
    verdict = engine.replay(recording, timeout=60)
    assert verdict.verdict == "pass", verdict.summary()
    assert verdict.recorded_icount == recording.icount > 0
    log = replaylog.summarize(recording.rrfile)
    # the replay stops at the log's quit: the recorded stop point, or
    # just before it when QEMU logged the last instructions after the quit
    assert verdict.replay_icount == verdict.log_stop_icount
    assert verdict.log_stop_icount == min(log.shutdown_icount,
                                          recording.icount)
    assert verdict.log_icount == log.icount
    assert verdict.log_icount == recording.final_icount == recording.icount
    assert verdict.console_equal
    console = open(recording.console, "rb").read()
    assert X86_PATTERN.encode() in console
    saved = json.load(open(tmp_path / "pair" / "verdict.json"))
    assert saved["verdict"] == "pass"
    for name in ("record-cmdline.txt", "replay-cmdline.txt",
                 "replay-console.log", "replay.bin.json"):
        assert (tmp_path / "pair" / name).exists(), name


def test_changed_command_line_diverges(qemu_x86_64, recording, tmp_path):
    """Replaying with another kernel command line must not pass."""
    recording.spec = dataclasses.replace(
        recording.spec, append=recording.spec.append + " other=1")
    verdict = RecordReplay(qemu_x86_64, tmp_path / "pair").replay(
        recording, timeout=60, stall_timeout=5)
    assert verdict.verdict in ("diverged", "stalled"), verdict.summary()
    assert not verdict.passed
    if verdict.verdict == "diverged":
        failed = [c.name for c in verdict.checks if not c.passed]
        assert "console" in failed or verdict.replay_error is not None


def test_tampered_log_diverges(qemu_x86_64, recording, tmp_path):
    """A log whose instruction counts were changed must not replay."""
    events = list(replaylog.iter_events(recording.rrfile))
    # shorten an instruction run half way through the log by one
    runs = [e for e in events if e.name == "EVENT_INSTRUCTION"]
    target = runs[len(runs) // 2]
    with open(recording.rrfile, "r+b") as log:
        log.seek(target.offset + 1)
        count = int.from_bytes(log.read(4), "big")
        log.seek(target.offset + 1)
        log.write((count - 1).to_bytes(4, "big"))
    verdict = RecordReplay(qemu_x86_64, tmp_path / "pair").replay(
        recording, timeout=60, stall_timeout=5)
    assert not verdict.passed, verdict.summary()
    log_check = [c for c in verdict.checks if c.name == "log icount"][0]
    assert not log_check.passed
    assert f"recorded {recording.final_icount}" in log_check.detail


def test_pattern_that_never_comes_is_record_failed(qemu_x86_64, x86_spec,
                                                   tmp_path):
    verdict = RecordReplay(qemu_x86_64, tmp_path).check(
        x86_spec, "this line is never printed", failure_patterns=[],
        timeout=3)
    assert verdict.verdict == "record-failed"
    assert "did not appear within 3" in verdict.reason


def test_failure_pattern_fails_fast(qemu_x86_64, x86_spec, tmp_path):
    verdict = RecordReplay(qemu_x86_64, tmp_path).check(
        x86_spec, "this line is never printed",
        failure_patterns=["Kernel command line"], timeout=60)
    assert verdict.verdict == "record-failed"
    assert "failure pattern" in verdict.reason


def test_qemu_dying_while_recording_is_record_failed(qemu_x86_64, x86_spec,
                                                     tmp_path):
    bad = BootSpec(**{**x86_spec.__dict__,
                      "extra_args": ["-device", "no-such-device"]})
    verdict = RecordReplay(qemu_x86_64, tmp_path).check(bad, X86_PATTERN,
                                                        timeout=30)
    assert verdict.verdict == "record-failed"
    assert "no-such-device" in verdict.reason


def test_sidecar_round_trip(recording):
    loaded = Recording.load(recording.rrfile)
    assert loaded.icount == recording.icount
    assert loaded.spec == recording.spec
    assert loaded.argv == recording.argv


def _signal_once(engine, signum):
    """A progress callback that sends ``signum`` to the replaying QEMU."""
    sent = []

    def progress(icount, target):
        if icount > 0 and not sent and engine.active is not None:
            os.kill(engine.active.proc.pid, signum)
            sent.append(time.monotonic())
    return progress, sent


def test_sigstopped_replay_is_stalled_with_position(qemu_x86_64, recording,
                                                    tmp_path):
    engine = RecordReplay(qemu_x86_64, tmp_path / "pair")
    progress, sent = _signal_once(engine, signal.SIGSTOP)
    verdict = engine.replay(recording, timeout=60, stall_timeout=3,
                            progress=progress)
    assert sent
    assert verdict.verdict == "stalled", verdict.summary()
    assert 0 < verdict.replay_icount < recording.icount
    assert "while QEMU was still alive" in verdict.reason
    events = replaylog.summarize(recording.rrfile).events
    assert 1 <= verdict.event_index <= events
    assert verdict.event_name.startswith("EVENT_")
    report = open(verdict.report).read()
    assert f"log position: event {verdict.event_index}" in report
    assert "<== replay is here" in report
    assert (tmp_path / "pair" / "repro.sh").exists()
    hashes = json.load(open(tmp_path / "pair" / "assets.json"))
    assert recording.spec.kernel in hashes


def test_sigkilled_replay_is_aborted(qemu_x86_64, recording, tmp_path):
    engine = RecordReplay(qemu_x86_64, tmp_path / "pair")
    progress, sent = _signal_once(engine, signal.SIGKILL)
    verdict = engine.replay(recording, timeout=60, progress=progress)
    assert sent
    assert verdict.verdict == "aborted", verdict.summary()
    assert "killed by SIGKILL" in verdict.reason
    assert verdict.report and os.path.exists(verdict.report)


def test_truncated_log_does_not_pass(qemu_x86_64, recording, tmp_path):
    size = os.path.getsize(recording.rrfile)
    with open(recording.rrfile, "r+b") as log:
        log.truncate(size // 2)
    verdict = RecordReplay(qemu_x86_64, tmp_path / "pair").replay(
        recording, timeout=60, stall_timeout=3)
    assert not verdict.passed, verdict.summary()
    log_check = [c for c in verdict.checks if c.name == "log icount"][0]
    assert not log_check.passed
    assert "TruncatedLog" in log_check.detail
    assert "offset" in log_check.detail
    assert verdict.replay_icount < recording.icount


def test_trace_diff_points_at_the_divergence(qemu_x86_64, x86_spec, tmp_path):
    """-d int in both phases: a good pair's traces agree, a tampered log's
    interrupt trace shows where the replay left the recorded path."""
    spec = dataclasses.replace(x86_spec, debug_flags="int")
    engine = RecordReplay(qemu_x86_64, tmp_path / "pair")
    recording = engine.record(spec, X86_PATTERN, timeout=60)
    assert engine.replay(recording, timeout=60).passed
    runs = [e for e in replaylog.iter_events(recording.rrfile)
            if e.name == "EVENT_INSTRUCTION" and e.fields["count"] > 100]
    target = runs[len(runs) // 3]
    with open(recording.rrfile, "r+b") as log:
        log.seek(target.offset + 1)
        log.write((target.fields["count"] - 7).to_bytes(4, "big"))
    verdict = RecordReplay(qemu_x86_64, tmp_path / "bad").replay(
        recording, timeout=60, stall_timeout=3)
    assert not verdict.passed
    report = open(verdict.report).read()
    assert ("first trace difference at line" in report or
            "the replay's trace ends after line" in report), report
