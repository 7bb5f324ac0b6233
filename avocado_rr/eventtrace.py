"""The two phases' replay event streams, compared event by event.

QEMU 11.1 (not 7.2 or 10.0) has trace events for every event and data
item the recording writes (``replay_put_event``, ``replay_put_dword``...)
and the replay reads (``replay_get_event``, ``replay_get_dword``...).
With them enabled in both phases (:data:`TRACE_EVENTS`, see
:attr:`avocado_rr.pair.BootSpec.event_trace`), :func:`first_difference`
names the first event whose kind or data differ between what the
recording wrote and what the replay read, or the event the replay never
got to: a finer place than the checkpoints' interval.

It costs: an x86 boot of 0.9 M events traced 28 MB (record) and 39 MB
(replay) and took 22 % and 15 % longer (docs/findings.md), so it is
asked for, not on by default.
"""

from __future__ import annotations

import functools
import re
import subprocess
from dataclasses import dataclass, field

#: the trace events of the event streams, both phases
TRACE_EVENTS = tuple(f"replay_{side}_{item}" for side in ("put", "get")
                     for item in ("event", "byte", "word", "dword",
                                  "qword"))
_LINE = re.compile(r"^replay_(put|get)_(event|byte|word|dword|qword)\s+"
                   r"(?:#\d+\s+data=)?([0-9a-fA-F]+)\s*$")


@functools.lru_cache(maxsize=None)
def supported(qemu_path: str) -> bool:
    """Whether the QEMU at ``qemu_path`` has the replay trace events."""
    try:
        out = subprocess.run([qemu_path, "-trace", "help"],
                             capture_output=True, text=True, timeout=30,
                             stdin=subprocess.DEVNULL).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return "replay_put_event" in out.split() and \
        "replay_get_event" in out.split()


@dataclass
class StreamEvent:
    """One event of a stream: its id and the data items after it."""

    id: int
    data: list[str] = field(default_factory=list)


def read_stream(path: str, side: str) -> list[StreamEvent]:
    """The events of a trace file, for ``side`` ``put`` (the recording)
    or ``get`` (the replay); other lines are left out, and so are data
    read before the first event (the replay's header)."""
    events: list[StreamEvent] = []
    with open(path, errors="replace") as trace:
        for line in trace:
            match = _LINE.match(line)
            if not match or match[1] != side:
                continue
            if match[2] == "event":
                events.append(StreamEvent(int(match[3], 16)))
            elif events:
                events[-1].data.append(match[3].lower())
    if side == "put" and events:
        # a recording ends by writing the log's version into its header
        # (a put_dword after the last event, the END), no event's data
        events[-1].data.clear()
    return events


@dataclass
class EventDifference:
    """The first place the two streams part (event numbers from 1, as
    ``avocado-rr dump`` and replay-dump.py count)."""

    #: ``data`` (same kind, other data), ``kind``, ``unread`` (the
    #: replay stopped before it), ``none``
    kind: str
    index: int | None = None
    recorded: StreamEvent | None = None
    replayed: StreamEvent | None = None
    #: events both streams hold
    common: int = 0

    def describe(self, names: dict[int, str] | None = None) -> str:
        names = names or {}

        def show(event: StreamEvent | None) -> str:
            if event is None:
                return "nothing"
            name = names.get(event.id, f"event {event.id:#x}")
            return name + (f" [{' '.join(event.data)}]" if event.data
                           else "")
        if self.kind == "none":
            return (f"event streams: the replay read the {self.common} "
                    f"events the recording wrote, identically")
        if self.kind == "unread":
            return (f"event streams: the replay read the first "
                    f"{self.common} events identically and never read "
                    f"event {self.index}: {show(self.recorded)}")
        return (f"event streams: first difference at event {self.index}: "
                f"recorded {show(self.recorded)}, replayed "
                f"{show(self.replayed)}")


def first_difference(recorded: list[StreamEvent],
                     replayed: list[StreamEvent]) -> EventDifference:
    """Where the replay's stream first parts from the recording's."""
    for number, (rec, rep) in enumerate(zip(recorded, replayed), 1):
        if rec.id != rep.id:
            return EventDifference("kind", number, rec, rep, number - 1)
        if rec.data != rep.data:
            return EventDifference("data", number, rec, rep, number - 1)
    common = min(len(recorded), len(replayed))
    if len(replayed) < len(recorded):
        return EventDifference("unread", common + 1, recorded[common],
                               None, common)
    return EventDifference("none", common=common)
