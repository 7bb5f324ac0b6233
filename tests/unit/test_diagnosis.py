"""Locating a replay's position in a real QEMU 7.2 log, trace diffs,
report and repro script."""

import hashlib
import json
import lzma
import shlex
import shutil
from pathlib import Path

import pytest

from avocado_rr import diagnosis, replaylog
from avocado_rr.pair import BootSpec, Recording
from avocado_rr.verdict import Check, Verdict

FIXTURES = Path(__file__).parent / "fixtures" / "replaylog"


@pytest.fixture(scope="module")
def log(tmp_path_factory):
    path = tmp_path_factory.mktemp("diag") / "bios.rr"
    with lzma.open(FIXTURES / "bios-disk-net.rr.xz") as src, \
            open(path, "wb") as dst:
        shutil.copyfileobj(src, dst)
    return str(path)


@pytest.fixture(scope="module")
def events(log):
    return list(replaylog.iter_events(log))


def test_position_inside_an_instruction_run(log, events):
    run = [e for e in events if e.name == "EVENT_INSTRUCTION"
           and e.fields["count"] > 10][5]
    position = diagnosis.locate(log, run.icount - 3)
    assert position.event_index == run.index
    assert position.event_name == "EVENT_INSTRUCTION"
    marked = [line for line in position.excerpt if "replay is here" in line]
    assert marked == [f"{run.index}:EVENT_INSTRUCTION(0) + "
                      f"{run.fields['count']} -> {run.icount}   "
                      f"<== replay is here"]


def test_position_at_the_end_of_a_run_is_the_next_event(log, events):
    run = [e for e in events if e.name == "EVENT_INSTRUCTION"][40]
    following = events[run.index]          # index is 1-based
    position = diagnosis.locate(log, run.icount)
    assert position.event_index == following.index
    assert position.event_name == following.name
    assert len(position.excerpt) == 2 * diagnosis.CONTEXT + 1


def test_unreadable_log_gives_an_error_not_an_exception(tmp_path):
    empty = tmp_path / "empty.rr"
    empty.write_bytes(b"")
    position = diagnosis.locate(str(empty), 100)
    assert position.event_index is None
    assert "empty" in position.error.lower()


def test_trace_diff_side_by_side(tmp_path):
    rec, rep = tmp_path / "rec.log", tmp_path / "rep.log"
    rec.write_text("".join(f"tlb_fill {i:#x}\n" for i in range(20)))
    rep.write_text("".join(f"tlb_fill {i:#x}\n" for i in range(12)) +
                   "tlb_fill 0xdead\n")
    text = diagnosis.diff_traces(str(rec), str(rep), context=3)
    assert "first trace difference at line 13" in text
    assert "13> tlb_fill 0xc" in text and "| tlb_fill 0xdead" in text
    assert "tlb_fill 0xb" in text           # context before it
    # a replay trace that stops early: where the recording went on
    rep.write_text("".join(f"tlb_fill {i:#x}\n" for i in range(12)))
    text = diagnosis.diff_traces(str(rec), str(rep), context=3)
    assert text.splitlines() == [
        "the replay's trace ends after line 12, where the recording's goes "
        "on with:", "     13 tlb_fill 0xc", "     14 tlb_fill 0xd",
        "     15 tlb_fill 0xe"]
    # identical as far as the recording goes: nothing to report
    rep.write_text(rec.read_text())
    assert diagnosis.diff_traces(str(rec), str(rep)) is None


def test_trace_diff_ignores_lazy_condition_codes(tmp_path):
    rec, rep = tmp_path / "rec.log", tmp_path / "rep.log"
    rec.write_text("EAX=1\nCCS=00000080 CCD=ffffffff CCO=CLR\nEAX=2\n")
    rep.write_text("EAX=1\nCCS=00000044 CCD=ffffffff CCO=EFLAGS\nEAX=2\n")
    assert diagnosis.diff_traces(str(rec), str(rep)) is None


def test_bundle_report_and_repro(log, tmp_path):
    kernel = tmp_path / "vmlinuz"
    kernel.write_bytes(b"kernel bytes")
    spec = BootSpec(arch="x86_64", machine="pc", kernel=str(kernel))
    argv = ["/usr/bin/qemu-system-x86_64", "-S", "-kernel", str(kernel),
            "-append", "console=ttyS0 x=1", "-icount",
            f"shift=7,rr=replay,rrfile={log}"]
    recording = Recording(rrfile=log, spec=spec, qemu_path=argv[0],
                          qemu_version="QEMU 7.2", icount=60973891,
                          console="c", argv=argv, pattern="p",
                          record_time=1.0)
    verdict = Verdict("stalled", "no progress", qemu_version="QEMU 7.2",
                      checks=[Check("replay icount", False, "short")])
    position = diagnosis.locate(log, 30000000)
    report = diagnosis.write_bundle(str(tmp_path), verdict, recording, argv,
                                    position)
    text = open(report).read()
    assert "record/replay verdict: stalled" in text
    assert "replay stopped at icount 30000000 (49.2% of the recorded" in text
    assert f"log position: event {position.event_index}" in text
    assert "[FAIL] replay icount: short" in text
    repro = (tmp_path / "repro.sh").read_text()
    command = [line for line in repro.splitlines()
               if line.startswith("exec ")][0]
    replayed = shlex.split(command[len("exec "):].rstrip(" \\"))
    assert replayed == [arg for arg in argv if arg != "-S"]
    assert (tmp_path / "repro.sh").stat().st_mode & 0o111
    hashes = json.loads((tmp_path / "assets.json").read_text())
    assert hashes == {str(kernel): hashlib.sha256(b"kernel bytes").hexdigest()}
