"""Where a replay first differs from its recording, on real QEMU: ground
truth from recordings changed at a known point, and clean pairs that
must compare equal at every checkpoint."""

import dataclasses
import json
import re
import shutil
import subprocess
import sys

import pytest

from avocado_rr import replaylog
from avocado_rr.engine import RecordReplay
from avocado_rr.qemu_binary import find_qemu
from avocado_rr.statecheck import CheckpointPlan
from conftest import X86_PATTERN

#: from 50 ms on, every 0.2 s at most: the quick boot (0.4-1.6 s of
#: recording) gets checkpoints before its stop point
PLAN = CheckpointPlan(every=0.2, first=0.05)
#: x86 bzImage: bytes of the boot sector's 0xff padding (the EFI stub's
#: PE header ends before it); QEMU's -kernel loads the sector at 0x10000
#: and Linux keeps the first MiB reserved: the guest holds it, never
#: reads it, never prints it
PADDING = 0x1c0
SECTOR_PAGE = 0x10000 // 4096
ROOT_MOUNT = re.compile(r"VFS: Cannot open root device")


def _qemu(version):
    return find_qemu("x86_64", qemu_version=version)


@pytest.fixture(params=[None, "11.1"], ids=["default", "11.1"])
def checkpointed(request, x86_spec, tmp_path):
    """A quick x86 boot recorded with state checkpoints, on the default
    QEMU and on the newest."""
    engine = RecordReplay(_qemu(request.param), tmp_path / "pair")
    recording = engine.record(x86_spec, X86_PATTERN, timeout=60,
                              checkpoints=PLAN)
    assert len(recording.checkpoints) >= 2, recording.checkpoints
    return engine, recording


def test_a_clean_pair_is_equal_at_every_checkpoint(checkpointed):
    engine, recording = checkpointed
    verdict = engine.replay(recording, timeout=60)
    assert verdict.verdict == "pass", verdict.summary()
    state = [c for c in verdict.checks if c.name == "state"][0]
    assert state.passed, state.detail
    assert verdict.location["kind"] == "none"
    assert verdict.location["compared"] == len(recording.checkpoints)


def test_an_input_the_guest_holds_but_never_prints_is_located(
        checkpointed, tmp_path):
    """The kernel file changes in a byte the guest keeps in RAM and never
    reads: console and icount still match, the state does not, from the
    kernel's loading on, in that byte's page."""
    engine, recording = checkpointed
    changed = tmp_path / "vmlinuz"
    shutil.copy(recording.spec.kernel, changed)
    with open(changed, "r+b") as kernel:
        kernel.seek(PADDING)
        assert kernel.read(1) == b"\xff"
        kernel.seek(PADDING)
        kernel.write(b"\x00")
    recording.spec = dataclasses.replace(recording.spec, kernel=str(changed))
    verdict = engine.replay(recording, timeout=60)
    checks = {check.name: check for check in verdict.checks}
    assert checks["console"].passed and checks["replay icount"].passed
    assert not checks["state"].passed
    assert verdict.verdict == "diverged", verdict.summary()
    location = verdict.location
    assert location["kind"] == "divergence" and location["located"]
    # the firmware copies the kernel into RAM (fw_cfg, linuxboot) some
    # way into the run: the checkpoints before that agree, every one
    # after it differs in that page alone
    kinds = [point["kind"] for point in location["points"]]
    first = kinds.index("diverged")
    assert set(kinds[:first]) <= {"equal"}
    assert set(kinds[first:]) == {"diverged"}
    assert location["first_different_icount"] == \
        recording.checkpoints[first].icount
    assert location["last_equal_icount"] == (
        recording.checkpoints[first - 1].icount if first else None)
    assert location["pages"] == [SECTOR_PAGE]
    assert location["registers"] == {}
    report = open(verdict.report).read()
    assert "RAM: 1 page(s) differ; first at RAM offset 0x10000" in report


def test_a_changed_clock_is_never_placed_before_the_change(
        qemu_x86_64, x86_spec, tmp_path):
    """Every host clock value from 30 % on moved by a second: the kernel
    prints the RTC's time at 33 %; the location may come after the
    change (where the guest first uses it), never before."""
    spec = dataclasses.replace(x86_spec, append="console=ttyS0 "
                               "printk.time=0")
    engine = RecordReplay(qemu_x86_64, tmp_path / "pair")
    recording = engine.record(spec, ROOT_MOUNT, timeout=120,
                              checkpoints=CheckpointPlan(every=1.0))
    changed = [e for e in replaylog.iter_events(recording.rrfile)
               if e.name == "EVENT_CLOCK_HOST"
               and e.icount >= 0.3 * recording.icount]
    with open(recording.rrfile, "r+b") as log:
        for event in changed:
            log.seek(event.offset + 1)
            value = int.from_bytes(log.read(8), "big")
            log.seek(event.offset + 1)
            log.write((value + 10 ** 9).to_bytes(8, "big"))
    change = changed[0].icount
    verdict = engine.replay(recording, timeout=120, stall_timeout=5)
    assert not verdict.passed, verdict.summary()
    location = verdict.location
    assert location["located"], verdict.summary()
    before = [c.icount for c in recording.checkpoints if c.icount < change]
    assert before, "no checkpoint before the change"
    for point in location["points"]:
        if point["icount"] < change:
            # equal, or an interrupt-entry transient (7.2 pauses a
            # recording inside one now and then): never a divergence
            assert point["kind"] != "diverged", point
    assert location["last_equal_icount"] >= before[-1]
    assert location["first_different_icount"] > change
    assert location["events"], "no log events between the two"


def test_the_newest_qemu_names_the_changed_event(x86_spec, tmp_path):
    """11.1 traces both event streams: one host clock value changed in
    the log is named, event number and both values."""
    spec = dataclasses.replace(x86_spec, event_trace=True)
    engine = RecordReplay(_qemu("11.1"), tmp_path / "pair")
    recording = engine.record(spec, X86_PATTERN, timeout=60,
                              checkpoints=PLAN)
    assert recording.spec.event_trace
    clocks = [e for e in replaylog.iter_events(recording.rrfile)
              if e.name == "EVENT_CLOCK_HOST"]
    target = clocks[len(clocks) // 2]
    with open(recording.rrfile, "r+b") as log:
        log.seek(target.offset + 1)
        value = int.from_bytes(log.read(8), "big")
        log.seek(target.offset + 1)
        log.write((value ^ 1 << 40).to_bytes(8, "big"))
    verdict = engine.replay(recording, timeout=60, stall_timeout=5)
    location = verdict.location
    assert location["first_event"] == target.index, location
    assert location["event_stream"] == (
        f"event streams: first difference at event {target.index}: "
        f"recorded EVENT_CLOCK_HOST [{value:016x}], replayed "
        f"EVENT_CLOCK_HOST [{value ^ 1 << 40:016x}]")


def test_an_event_trace_on_older_qemu_is_left_out(qemu_x86_64, x86_spec,
                                                  tmp_path):
    """7.2 has no replay_* trace events: the pair runs, untraced."""
    spec = dataclasses.replace(x86_spec, event_trace=True)
    engine = RecordReplay(qemu_x86_64, tmp_path / "pair")
    verdict = engine.check(spec, X86_PATTERN, timeout=60)
    assert verdict.passed, verdict.summary()
    assert not engine.recording.spec.event_trace
    assert "replay_put_event" not in " ".join(engine.recording.argv)


def test_locate_cli_json(checkpointed, tmp_path):
    """avocado-rr locate on a kept recording: one JSON object."""
    engine, recording = checkpointed
    res = subprocess.run(
        [sys.executable, "-m", "avocado_rr.cli", "locate", "--rrfile",
         recording.rrfile, "--json"], capture_output=True, text=True,
        timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    data = json.loads(res.stdout)
    assert data["located"] is False and data["kind"] == "none"
    assert data["compared"] == len(recording.checkpoints)
    assert {"last_equal_icount", "first_different_icount",
            "differences"} <= data.keys()
