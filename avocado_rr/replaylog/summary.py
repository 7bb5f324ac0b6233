"""Summary of a whole replay log: counts, icount, clocks, how it ended.

Both decoders (pure Python and the C scanner) fill the same
:class:`ScanState`; :func:`build_summary` turns it into a
:class:`LogSummary`, so the two paths give identical summaries.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field

from avocado_rr.replaylog.reader import Event, LogHeader


@dataclass
class ScanState:
    """Raw tallies of a scan, per event id."""

    events: int = 0
    icount: int = 0
    offset: int = 12                # bytes decoded so far
    ended: bool = False
    last_id: int = -1
    char_write_bytes: int = 0
    counts: list[int] = field(default_factory=lambda: [0] * 256)
    first_index: list[int] = field(default_factory=lambda: [0] * 256)
    #: a clock event's first value; for other events, the icount at
    #: which the first of them occurs
    first_value: list[int] = field(default_factory=lambda: [0] * 256)
    last_value: list[int] = field(default_factory=lambda: [0] * 256)

    def add(self, ev: Event) -> None:
        """Account one decoded event (pure-Python path)."""
        eid = ev.id
        self.events = ev.index
        self.icount = ev.icount
        self.offset = ev.offset + ev.size
        self.last_id = eid
        if not self.counts[eid]:
            self.first_index[eid] = ev.index
            self.first_value[eid] = (ev.fields["value"]
                                     if ev.group == "clock" else ev.icount)
        self.counts[eid] += 1
        if ev.group == "clock":
            self.last_value[eid] = ev.fields["value"]
        elif ev.group == "char_write" and ev.fields["res"] > 0:
            self.char_write_bytes += ev.fields["res"]
        elif ev.group == "end":
            self.ended = True


@dataclass
class LogSummary:
    """What ``avocado-rr dump --summary`` reports about a log."""

    path: str
    version: int                    # format version used to decode
    header_version: int             # as in the file (0: unfinished)
    format: str                     # e.g. "0xe0200c/7.2+"
    events: int                     # END included, numbered as replay-dump
    icount: int                     # sum of INSTRUCTION payloads
    clean_end: bool
    shutdown_cause: str | None      # first shutdown request of the log
    shutdown_causes: list[str]      # distinct causes, in order of appearance
    #: icount at the first shutdown request: where a replay of the log
    #: stops (QEMU 7.2 can log instructions after it, see engine.py)
    shutdown_icount: int | None
    counts: dict[str, int]          # per event name, in id order
    host_clock_first: int | None
    host_clock_last: int | None
    host_clock_span_ns: int | None
    virtual_clock_first: int | None
    virtual_clock_last: int | None
    virtual_clock_span_ns: int | None
    char_write_bytes: int
    bytes_decoded: int
    file_size: int
    error: str | None = None
    error_class: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def build_summary(path: str, header: LogHeader, state: ScanState,
                  error: Exception | None = None) -> LogSummary:
    """Make the summary of a (possibly partial) scan."""
    fmt = header.format
    counts = {}
    causes = []
    clocks: dict[str, tuple[int | None, int | None]] = {}
    for ev in fmt.events:
        n = state.counts[ev.id]
        if ev.group == "clock":
            clocks[ev.arg] = ((state.first_value[ev.id],
                               state.last_value[ev.id]) if n else
                              (None, None))
        if not n:
            continue
        counts[ev.name] = n
        if ev.group == "shutdown":
            causes.append((state.first_index[ev.id], ev.arg,
                           state.first_value[ev.id]))
    causes.sort()
    host = clocks.get("HOST", (None, None))
    virt = clocks.get("VIRTUAL_RT", (None, None))
    try:
        size = os.path.getsize(path)
    except OSError:
        size = state.offset
    clean = (error is None and state.ended and not header.unfinished
             and state.offset == size)
    return LogSummary(
        path=path, version=fmt.version, header_version=header.header_version,
        format=fmt.name, events=state.events, icount=state.icount,
        clean_end=clean,
        shutdown_cause=causes[0][1] if causes else None,
        shutdown_causes=[c for _, c, _ in causes],
        shutdown_icount=causes[0][2] if causes else None, counts=counts,
        host_clock_first=host[0], host_clock_last=host[1],
        host_clock_span_ns=None if host[0] is None else host[1] - host[0],
        virtual_clock_first=virt[0], virtual_clock_last=virt[1],
        virtual_clock_span_ns=None if virt[0] is None else virt[1] - virt[0],
        char_write_bytes=state.char_write_bytes,
        bytes_decoded=state.offset, file_size=size,
        error=None if error is None else str(error),
        error_class=None if error is None else type(error).__name__)


def summary_text(s: LogSummary) -> str:
    """Human-readable multi-line summary."""
    def span(ns):
        return "-" if ns is None else f"{ns} ns ({ns / 1e9:.3f} s)"
    lines = [
        f"log:            {s.path}",
        f"version:        {s.version:#x} (header {s.header_version:#x}, "
        f"table {s.format})",
        f"events:         {s.events}",
        f"icount:         {s.icount}",
        f"virtual clock:  {span(s.virtual_clock_span_ns)}",
        f"host clock:     {span(s.host_clock_span_ns)}",
        f"char output:    {s.char_write_bytes} bytes",
        f"bytes decoded:  {s.bytes_decoded} of {s.file_size}",
        f"shutdown cause: {s.shutdown_cause or '-'} "
        f"(all: {', '.join(s.shutdown_causes) or '-'})",
        f"shutdown at:    icount "
        f"{'-' if s.shutdown_icount is None else s.shutdown_icount}",
        f"clean end:      {'yes' if s.clean_end else 'no'}",
    ]
    if s.error:
        lines.append(f"error:          {s.error_class}: {s.error}")
    lines.append("counts:")
    width = max((len(k) for k in s.counts), default=0)
    for name, n in s.counts.items():
        lines.append(f"  {name:<{width}}  {n}")
    return "\n".join(lines)

