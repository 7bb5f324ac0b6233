"""Console comparison and QEMU replay-error parsing."""

import json

import pytest

from avocado_rr.verdict import (Check, Verdict, VerdictKind,
                                compare_consoles, parse_replay_error)


def test_identical_consoles_have_no_diff():
    assert compare_consoles(b"a\r\nb\r\n", b"a\r\nb\r\n") is None


def test_first_differing_line_with_context():
    rec = b"".join(f"line {i}\r\n".encode() for i in range(10))
    rep = rec.replace(b"line 6", b"line six")
    diff = compare_consoles(rec, rep, context=2)
    assert diff.line_number == 7
    assert diff.recorded_line == "line 6"
    assert diff.replayed_line == "line six"
    assert diff.recorded_context == ["line 4", "line 5", "line 6"]
    text = diff.describe()
    assert ">     7: line 6" in text and ">     7: line six" in text


def test_short_replay_is_a_difference():
    diff = compare_consoles(b"a\nb\nc\n", b"a\nb\n")
    assert diff.line_number == 3
    assert diff.recorded_line == "c"
    assert diff.replayed_line == ""


def test_parse_qemu_72_error():
    err = parse_replay_error("qemu-system-x86_64: Missing character write "
                             "event in the replay log\n")
    assert err.message.endswith("Missing character write event in the "
                                "replay log")
    assert err.icount is None


def test_parse_qemu_9_sync_error_fields():
    line = ("qemu-system-aarch64: Missing character write event in the "
            "replay log (insn total 2848747/17 left, event 93211 is "
            "EVENT_CHAR_WRITE)")
    err = parse_replay_error("noise\n" + line + "\nAborted\n")
    assert (err.icount, err.instructions_left, err.event_index,
            err.event_name) == (2848747, 17, 93211, "EVENT_CHAR_WRITE")


def test_unrelated_stderr_is_not_a_replay_error():
    assert parse_replay_error("qemu: warning: dbus not available\n") is None


def test_verdict_overhead_and_dict():
    verdict = Verdict("pass", record_time=2.0, replay_time=3.0)
    assert verdict.overhead == 1.5
    assert verdict.to_dict()["overhead"] == 1.5
    assert Verdict("diverged").overhead is None


def test_verdict_kinds_are_their_strings():
    assert tuple(VerdictKind) == ("pass", "diverged", "stalled", "aborted",
                        "record-failed", "timeout", "tool-limitation")
    verdict = Verdict("record-failed", "no pattern")
    assert verdict.verdict is VerdictKind.RECORD_FAILED
    assert verdict.verdict == "record-failed"
    assert f"{verdict.verdict}" == str(verdict.verdict) == "record-failed"
    assert {"record-failed": 1}[verdict.verdict] == 1
    assert json.loads(json.dumps(verdict.to_dict()))["verdict"] == \
        "record-failed"
    assert verdict.summary().startswith("verdict: record-failed (")
    with pytest.raises(ValueError):
        Verdict("no-such-verdict")


def _failed_verdict():
    diff = compare_consoles(b"a\r\nb\r\n", b"a\r\nc\r\n")
    return Verdict(
        "diverged", "QEMU: Missing character write event",
        checks=[Check("console", False, "line 2 differs"),
                Check("replay icount", True, "replay 5, recorded 5")],
        recorded_icount=5, replay_icount=5, console_equal=False,
        console_diff=diff, record_time=1.0, replay_time=2.0,
        replay_error=parse_replay_error("Missing character write event"),
        artifacts={"rrfile": "/x/replay.bin"})


def test_verdict_from_its_dict():
    verdict = _failed_verdict()
    data = json.loads(json.dumps(verdict.to_dict()))
    data.update(arch="x86_64", machine="pc", cpu=None, qemu="/usr/bin/q")
    again = Verdict.from_dict(data)
    assert again == verdict
    assert again.to_dict() == verdict.to_dict()
    assert Verdict.from_dict({"arch": "x86_64"}) is None
    with pytest.raises(ValueError):
        Verdict.from_dict({"verdict": "no-such-verdict"})


def test_summary_and_report_share_the_findings():
    verdict = _failed_verdict()
    assert verdict.summary().splitlines() == [
        "verdict: diverged (QEMU: Missing character write event)",
        "  [FAIL] console: line 2 differs",
        "  [ok] replay icount: replay 5, recorded 5",
        *verdict.console_diff.describe().splitlines(),
        "QEMU replay error: Missing character write event"]
    assert verdict.finding_lines(spaced=True) == [
        "[FAIL] console: line 2 differs",
        "[ok] replay icount: replay 5, recorded 5",
        "", verdict.console_diff.describe(),
        "", "QEMU replay error: Missing character write event"]


def test_icount_means_one_thing():
    """The summary's ``icount`` is the recorded one; a verdict names its
    icounts by what they are and writes no ambiguous ``icount``."""
    from avocado_rr.verdict import Verdict
    data = Verdict("pass", recorded_icount=9, replay_icount=7).to_dict()
    assert "icount" not in data
    assert data["replay_icount"] == 7 and data["recorded_icount"] == 9
    old = dict(data, icount=7)          # what earlier versions wrote
    assert Verdict.from_dict(old).replay_icount == 7
