"""How the engine judges a pair whose replay log the reader cannot read.

The log is the real QEMU 11.1 fixture (bios-disk-net-11.1, see
test_replaylog.py), as is and with its header version byte-edited to an
unknown 0xe0200f; the pair's other inputs (consoles, the replay's stop
icount, QEMU's exit) are stand-ins given to ``avocado_rr.judge.judge``, the
step that turns them into a verdict.
"""

import pytest

from avocado_rr import pair
from avocado_rr.judge import judge
from avocado_rr.verdict import Check, VerdictKind

from test_replaylog import _sidecar, _unxz

CONSOLE = b"avocado-rr fixture boot sector\r\n"


def _judge(tmp_path, rrfile, replayed=CONSOLE, **options):
    icount = _sidecar("11.1")["query_replay_icount"]
    recorded = tmp_path / "rec.console"
    recorded.write_bytes(CONSOLE)
    console = tmp_path / "replay.console"
    console.write_bytes(replayed)
    recording = pair.Recording(
        rrfile=str(rrfile), spec=pair.BootSpec("x86_64", "pc", "none"),
        qemu_path="qemu-system-x86_64", qemu_version="QEMU 11.1.3",
        icount=icount, console=str(recorded), argv=[], pattern="sector",
        record_time=1.0, console_bytes=len(CONSOLE), final_icount=icount)
    outcome = pair.ReplayOutcome("stopped", icount, console=str(console))
    options.setdefault("qemu_version", "QEMU 11.1.3")
    verdict = judge(recording, outcome, **options)
    assert verdict.log_stop_icount == pair.replay_stop_icount(recording)
    return verdict


@pytest.fixture
def logs(tmp_path):
    real = _unxz("bios-disk-net-11.1.rr.xz", tmp_path)
    data = bytearray(open(real, "rb").read())
    data[3] = 0x0f
    future = tmp_path / "future.rr"
    future.write_bytes(bytes(data))
    return real, future


def test_unknown_log_version_is_a_tool_limitation(tmp_path, logs):
    verdict = _judge(tmp_path, logs[1])
    assert verdict.verdict == VerdictKind.TOOL_LIMITATION == "tool-limitation"
    assert not verdict.passed
    assert "unknown REPLAY_VERSION 0xe0200f: newest known 0xe0200e " \
        "(QEMU 11.1)" in verdict.reason
    assert "console and replay icount matched" in verdict.reason
    checks = {c.name: c.passed for c in verdict.checks}
    assert checks == {"console": True, "replay icount": True,
                      "log icount": False}


def test_unknown_log_version_does_not_hide_a_divergence(tmp_path, logs):
    verdict = _judge(tmp_path, logs[1], replayed=b"avocado-rr fixture\r\n")
    assert verdict.verdict == "diverged"
    assert "console check failed" in verdict.reason


def test_qemu11_log_is_read(tmp_path, logs):
    verdict = _judge(tmp_path, logs[0])
    assert verdict.verdict == "pass", verdict.reason
    assert verdict.log_icount == _sidecar("11.1")["query_replay_icount"]


def test_extra_checks_are_judged_with_the_engine_s(tmp_path, logs):
    seen = []

    def extra(recording, outcome):
        seen.append((recording.icount, outcome.console))
        return [Check("markers", False, "marker 3 missing")]
    verdict = _judge(tmp_path, logs[0], extra_checks=extra)
    assert seen and seen[0][1] == str(tmp_path / "replay.console")
    assert verdict.verdict == "diverged"
    assert verdict.reason == "markers check failed: marker 3 missing"
    assert [c.name for c in verdict.checks] == [
        "console", "replay icount", "log icount", "markers"]


def test_extra_checks_do_not_change_an_earlier_verdict(tmp_path, logs):
    verdict = _judge(tmp_path, logs[1], extra_checks=lambda *_: [
        Check("disk image", True, "sha256 unchanged after both phases")])
    assert verdict.verdict == "tool-limitation"
    assert verdict.checks[-1].name == "disk image"


def test_another_qemu_is_named_in_a_failure(tmp_path, logs):
    verdict = _judge(tmp_path, logs[0], replayed=b"other\r\n",
                     qemu_version="QEMU 10.0.2")
    assert verdict.reason.startswith(
        "recorded by QEMU 11.1.3, replayed by QEMU 10.0.2: console check")
    assert verdict.qemu_version == "QEMU 10.0.2"
