"""State checkpoints: when a recording pauses, what is kept, how a replay
compares.

A :class:`CheckpointPlan` says when the recording pauses (a quarter of a
second in, then at doubling intervals up to ``every`` seconds, then every
``every`` seconds, and at the stop point).  At each pause the
:class:`StateProbes` of that phase take the instruction count, every CPU
register (HMP ``info registers``), the console's length and a CRC-32 of
each guest RAM page (:mod:`avocado_rr.guestram`).  The recording keeps
the registers in its sidecar and the page digests in ``<rrfile>.ram``;
the replay stops at each checkpoint's icount, takes the same probes and
:func:`compare_point` tells how they differ; :mod:`avocado_rr.divergence`
decides what the differences mean.
"""

from __future__ import annotations

import json
import os
import time
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from avocado_rr import eventtrace, replaylog
from avocado_rr.divergence import (ComparedPoint, Location, PointKind,
                                   StateDiff, classify, diff_registers,
                                   locate)
from avocado_rr.guestram import GuestRam, PageDigests
from avocado_rr.pair import ReplayState
from avocado_rr.probes import (Checkpoint, IcountProbe, RegistersProbe,
                               parse_registers)
from avocado_rr.replaylog.render import text_line

if TYPE_CHECKING:
    from avocado_rr.machine import QemuMachine
    from avocado_rr.pair import Recording, ReplayOutcome
    from avocado_rr.session import Progress, ReplaySession

#: default seconds between two checkpoints of a recording, from the
#: measured cost (docs/findings.md): a checkpoint pauses an x86 boot for
#: ~0.1 s in each phase
DEFAULT_EVERY = 2.0
#: the first pause, in seconds of recording
FIRST = 0.25
#: the page digests beside a log
RAM_SUFFIX = ".ram"


@dataclass
class CheckpointPlan:
    """When a recording pauses for a state checkpoint.

    :param every: the longest interval, seconds (0: no checkpoint but the
        stop point's)
    """

    every: float = DEFAULT_EVERY
    first: float = FIRST

    def times(self, horizon: float) -> list[float]:
        """The pauses up to ``horizon`` seconds into the recording."""
        if self.every <= 0:
            return []
        times, t, gap = [], self.first, self.first
        while t <= horizon:
            times.append(t)
            gap = min(gap * 2, self.every)
            t += gap
        return times

    def next_after(self, elapsed: float) -> float | None:
        """The first pause after ``elapsed`` seconds."""
        if self.every <= 0:
            return None
        t, gap = self.first, self.first
        while t <= elapsed:
            gap = min(gap * 2, self.every)
            t += gap
        return t

    @classmethod
    def per_10s(cls, count: float) -> "CheckpointPlan":
        """``count`` checkpoints per 10 s of recording (0: none)."""
        return cls(every=10.0 / count if count > 0 else 0.0)


class ConsoleProbe:
    """How many bytes the guest wrote to its console so far."""

    name = "console"

    def __init__(self, path: str):
        self.path = path

    def take(self, machine: "QemuMachine") -> int:
        try:
            return os.path.getsize(self.path)
        except OSError:
            return 0


class RamProbe:
    """The guest RAM's page digests: their count and whole digest as the
    value; the digests themselves appended to ``store`` (the recording's
    ``<rrfile>.ram``), or kept in :attr:`last` (a replay)."""

    name = "ram"

    def __init__(self, ram: GuestRam, store: str | None = None):
        self.ram = ram
        self.store = store
        self.last: PageDigests | None = None

    def take(self, machine: "QemuMachine") -> dict[str, Any]:
        digests = self.last = self.ram.digests()
        value = {"pages": len(digests.pages), "digest": digests.digest}
        if self.store is not None:
            data = digests.to_bytes()
            with open(self.store, "ab") as out:
                value["offset"] = out.tell()
                out.write(data)
            value["length"] = len(data)
        return value


def state_probes(ram: GuestRam | None, console: str,
                 store: str | None = None) -> list:
    """The probes of a state checkpoint (no RAM probe without ``ram``)."""
    probes: list = [IcountProbe(), RegistersProbe(), ConsoleProbe(console)]
    if ram is not None:
        probes.append(RamProbe(ram, store))
    return probes


def recorded_pages(rrfile: str, checkpoint: Checkpoint) -> PageDigests | None:
    """The page digests a recording kept for ``checkpoint``, if any."""
    ram = checkpoint.values.get("ram")
    if not ram or "offset" not in ram:
        return None
    with open(rrfile + RAM_SUFFIX, "rb") as store:
        store.seek(ram["offset"])
        return PageDigests.from_bytes(store.read(ram["length"]))


def compare_point(rrfile: str, recorded: Checkpoint, replayed: Checkpoint,
                  replayed_pages: PageDigests | None,
                  events_here: list[str]) -> ComparedPoint:
    """One checkpoint compared (its kind is decided later, with the
    others: :func:`avocado_rr.divergence.classify`)."""
    diff = StateDiff(diff_registers(
        parse_registers(recorded.values.get("registers", "")),
        parse_registers(replayed.values.get("registers", ""))))
    rec_ram = recorded.values.get("ram")
    rep_ram = replayed.values.get("ram")
    if rec_ram and rep_ram and rec_ram["digest"] != rep_ram["digest"]:
        pages = recorded_pages(rrfile, recorded)
        if pages is not None and replayed_pages is not None:
            diff.pages = pages.differing(replayed_pages)
        else:
            diff.pages = [-1]       # differ, where unknown
    seen = json.dumps([replayed.values.get("registers"),
                       (rep_ram or {}).get("digest")], sort_keys=True)
    return ComparedPoint(recorded.icount, recorded.moment, PointKind.EQUAL,
                         diff, events_here,
                         f"{zlib.crc32(seen.encode()):08x}")


# -- the replay's side ----------------------------------------------------

def state_checkpoints(recording: "Recording") -> list[Checkpoint]:
    """The recording's checkpoints that hold guest state to compare."""
    return [checkpoint for checkpoint in recording.checkpoints
            if "registers" in checkpoint.values]


def has_ram(checkpoints: list[Checkpoint]) -> bool:
    return any("ram" in checkpoint.values for checkpoint in checkpoints)


def replay_through(session: "ReplaySession", checkpoints: list[Checkpoint],
                   stop_at: int, timeout: float,
                   progress: "Progress | None" = None
                   ) -> tuple["ReplayOutcome", list[ComparedPoint]]:
    """Replay to ``stop_at``, pausing at each checkpoint on the way to take
    the same probes and compare; how the replay ended, and the compared
    points (their kinds still undecided)."""
    deadline = time.monotonic() + timeout
    rrfile = session.recording.rrfile
    console = session.machine.name + "-console.log"
    probes = state_probes(session.ram, os.path.join(
        os.path.dirname(session.machine.stderr_path), console))
    ram_probe = next((p for p in probes if isinstance(p, RamProbe)), None)
    points: list[ComparedPoint] = []
    outcome = None
    for checkpoint in checkpoints:
        if checkpoint.icount > stop_at:
            break
        outcome = session.advance(checkpoint.icount,
                                  max(deadline - time.monotonic(), 1.0),
                                  progress)
        if outcome.state != ReplayState.STOPPED or \
                outcome.icount != checkpoint.icount:
            return outcome, points
        seen = session.probe(probes, "replay")
        points.append(compare_point(
            rrfile, checkpoint, seen,
            ram_probe.last if ram_probe else None, []))
    if outcome is None or outcome.icount != stop_at:
        outcome = session.advance(stop_at,
                                  max(deadline - time.monotonic(), 1.0),
                                  progress)
    return outcome, points


def events_at(rrfile: str, icount: int) -> list[str]:
    """Names of the log's events that sit at exactly ``icount`` (after the
    instructions that reach it, before the next ones)."""
    try:
        index = replaylog.find_icount(rrfile, icount)
        events = replaylog.events_around(rrfile, index, 12)
    except (replaylog.ReplayLogError, ValueError, OSError):
        return []
    names = []
    for event in events:
        if event.index <= index:
            if event.index == index and event.icount != icount:
                return []           # inside an instruction run
            continue
        if event.group == "instruction":
            break
        names.append(event.name)
    return names


def events_between(rrfile: str, start: int | None, end: int,
                   limit: int = 24) -> list[str]:
    """The log's events from icount ``start`` to ``end`` in replay-dump
    form: the first and last ``limit / 2`` of them around a count."""
    try:
        first = replaylog.find_icount(rrfile, start or 0)
        try:
            last = replaylog.find_icount(rrfile, end)
        except ValueError:
            last = None
        lines, skipped, tail = [], 0, []
        for event in replaylog.iter_events(rrfile):
            if event.index < first:
                continue
            if last is not None and event.index > last + 1:
                break
            if len(lines) < limit // 2:
                lines.append(text_line(event))
            else:
                tail.append(text_line(event))
                if len(tail) > limit // 2:
                    tail.pop(0)
                    skipped += 1
    except (replaylog.ReplayLogError, ValueError, OSError) as details:
        return [f"(the log cannot be read there: {details})"]
    if skipped:
        lines.append(f"... {skipped} more events ...")
    return lines + tail


def locate_replay(recording: "Recording", checkpoints: list[Checkpoint],
                  points: list[ComparedPoint], outcome: "ReplayOutcome",
                  stop_at: int, replay_trace: str = "") -> Location:
    """Classify the compared points and say where the replay first went
    wrong: a divergence of the state, or the interval before a failure."""
    if not checkpoints:
        location = Location(located=False, kind="no-checkpoints",
                            recorded_icount=recording.icount)
        _compare_streams(recording, replay_trace, location)
        return location
    for point in points:
        if not point.diff.equal:
            point.events_here = events_at(recording.rrfile, point.icount)
    classify(points)
    reached = outcome.state == ReplayState.STOPPED and \
        outcome.icount == stop_at
    location = locate(points, recording.icount,
                      None if reached else (outcome.icount or 0))
    if location.located:
        location.events = events_between(recording.rrfile,
                                         location.last_equal_icount,
                                         location.first_different_icount)
        by_icount = {c.icount: c.values.get("console") for c in checkpoints}
        location.console_bytes = [
            by_icount.get(location.last_equal_icount),
            by_icount.get(location.first_different_icount)]
    _compare_streams(recording, replay_trace, location)
    return location


def _compare_streams(recording: "Recording", replay_trace: str,
                     location: Location) -> None:
    """Name the first event where the phases' event streams part, when
    both were traced (:mod:`avocado_rr.eventtrace`)."""
    record_trace = recording.rrfile + ".trace"
    if not (recording.spec.event_trace and os.path.exists(record_trace)
            and os.path.exists(replay_trace)):
        return
    difference = eventtrace.first_difference(
        eventtrace.read_stream(record_trace, "put"),
        eventtrace.read_stream(replay_trace, "get"))
    names = {}
    if difference.index is not None:
        location.first_event = difference.index
        try:
            event = replaylog.events_around(recording.rrfile,
                                            difference.index, 0)[0]
            names[event.id] = event.name
        except (replaylog.ReplayLogError, IndexError, OSError):
            pass
    location.event_stream = difference.describe(names)
