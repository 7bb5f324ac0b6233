"""The bare-metal guests on real QEMU: a clean pair passes, and a timer
interrupt moved in the log changes what the guest prints."""

import pytest

from avocado_rr import baremetal, replaylog
from avocado_rr.engine import RecordReplay
from avocado_rr.pair import BootSpec
from avocado_rr.qemu_binary import find_qemu

#: instructions the moved interrupt is taken later by: the guests' main
#: loops are 10 to 20 instructions, so the line after it counts a dozen
#: iterations more or so, and its accumulator differs
SHIFT = 200

@pytest.fixture(params=[(name, version) for name in sorted(baremetal.GUESTS)
                        for version in (None, "11.1")],
                ids=lambda param: f"{param[0]}-{param[1] or 'default'}")
def recorded(request, tmp_path):
    """A guest built, recorded to its done line on the default QEMU or
    the newest, and replayed once untouched (which must pass)."""
    name, version = request.param
    guest = baremetal.guest(name)
    elf = baremetal.build(guest.name, tmp_path / "guest")
    spec = BootSpec(arch=guest.arch, machine=guest.machine, kernel=str(elf),
                    cpu=guest.cpu, extra_args=list(guest.qemu_args))
    engine = RecordReplay(find_qemu(guest.arch, qemu_version=version),
                          tmp_path / "pair")
    recording = engine.record(spec, baremetal.DONE_LINE, timeout=60)
    console = open(recording.console, "rb").read().decode()
    assert console.startswith(baremetal.START_LINE + guest.machine), console
    assert console.count("\ntick ") == 32, console
    verdict = engine.replay(recording, timeout=60, stall_timeout=5)
    assert verdict.verdict == "pass", verdict.summary()
    return engine, recording


def _move_an_interrupt(rrfile: str) -> replaylog.Event:
    """Take a timer interrupt half way through the guest's run SHIFT
    instructions later: one that completes 8 ticks (a line follows it
    before the next interrupt), so the guest's line boundary moves.  The
    instruction run before it gains SHIFT, the first long one after it
    loses them: the log's icount total stays."""
    events = list(replaylog.iter_events(rrfile))
    interrupts = [position for position, event in enumerate(events)
                  if event.name == "EVENT_INTERRUPT"]
    for position in interrupts[len(interrupts) // 2:]:
        following = next(e.name for e in events[position + 1:]
                         if e.name in ("EVENT_INTERRUPT", "EVENT_CHAR_WRITE"))
        if following != "EVENT_CHAR_WRITE":
            continue
        before = [e for e in events[:position]
                  if e.name == "EVENT_INSTRUCTION"][-1]
        after = next((e for e in events[position:]
                      if e.name == "EVENT_INSTRUCTION"
                      and e.fields["count"] > 2 * SHIFT), None)
        if after is not None:
            break
    else:
        raise AssertionError("no interrupt before a line with a long run "
                             "after it")
    with open(rrfile, "r+b") as log:
        for run, delta in ((before, SHIFT), (after, -SHIFT)):
            log.seek(run.offset + 1)
            count = int.from_bytes(log.read(4), "big")
            log.seek(run.offset + 1)
            log.write((count + delta).to_bytes(4, "big"))
    return events[position]


def test_a_moved_timer_interrupt_changes_the_guests_output(recorded):
    engine, recording = recorded
    moved = _move_an_interrupt(recording.rrfile)
    assert replaylog.summarize(recording.rrfile).icount == recording.icount
    verdict = engine.replay(recording, timeout=60, stall_timeout=5)
    assert verdict.verdict != "pass", verdict.summary()
    assert not verdict.passed
    failed = {check.name for check in verdict.checks if not check.passed}
    assert "console" in failed or verdict.replay_error, (
        moved, verdict.summary())
