"""The record/replay engine on real QEMU: it passes what reproduces and
fails, with the right reason, what does not."""

import dataclasses
import json

import pytest

from avocado_rr import replaylog
from avocado_rr.engine import BootSpec, Recording, RecordReplay
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
    assert verdict.replay_icount == recording.icount
    assert verdict.log_icount == replaylog.summarize(recording.rrfile).icount
    assert verdict.log_icount == recording.final_icount > recording.icount
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
