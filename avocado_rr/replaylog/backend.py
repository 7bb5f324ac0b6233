"""Whole-log operations, on the C scanner when present, else pure Python.

The C scanner (``_scan``) only runs over ordinary events: it stops in
front of END, of anything invalid and (when rendering text) of rare
events, and the pure-Python decoder takes over from that exact event.
Numbering, icount, error messages and the end-of-log checks therefore
come from one place, and both paths give identical results.
"""

from __future__ import annotations

import array
from typing import BinaryIO

from avocado_rr.replaylog import formats as F
from avocado_rr.replaylog.errors import ReplayLogError
from avocado_rr.replaylog.reader import (CHUNK, Event, LogReader, _Short,
                                         decode_at, event_table)
from avocado_rr.replaylog.render import payload_text, text_line
from avocado_rr.replaylog.summary import LogSummary, ScanState, build_summary

try:
    from avocado_rr.replaylog import _scan
except ImportError:         # not built: pure Python only
    _scan = None

# _scan.scan() / _scan.render() statuses
_MORE, _HANDOVER, _FULL, _STOPPED = 0, 1, 2, 3


def have_scan() -> bool:
    return _scan is not None


def _use_c(accel: bool | None) -> bool:
    if accel is False:
        return False
    if _scan is None:
        if accel:
            raise ImportError("the C scanner avocado_rr.replaylog._scan is "
                              "not built")
        return False
    return True


def _c_scan(reader: LogReader, state: ScanState, stop_icount: int = -1,
            stop_index: int = -1) -> bool:
    """Advance *state* with the C scanner from ``state.offset``.

    :returns: True if a stop condition was met (the event reaching
              *stop_icount* or *stop_index* is the last one counted);
              False when the pure decoder must continue (END, a fault or
              the end of the data), *reader* being positioned there.
    """
    fmt = reader.format
    kinds = fmt.kind_table()
    akinds = fmt.async_table()
    counts = array.array("q", state.counts)
    first_index = array.array("q", state.first_index)
    first_value = array.array("q", state.first_value)
    last_value = array.array("q", state.last_value)
    f = reader._f
    f.seek(state.offset)
    buf = b""
    base = state.offset
    p = 0
    stopped = False
    while True:
        chunk = f.read(CHUNK)
        if not chunk:
            break
        buf = buf[p:] + chunk
        base += p
        (p, state.events, state.icount, cwb, status,
         last_id) = _scan.scan(buf, 0, kinds, akinds, counts, first_index,
                               first_value, last_value, state.events,
                               state.icount, stop_icount, stop_index)
        state.char_write_bytes += cwb
        if last_id >= 0:
            state.last_id = last_id
        state.offset = base + p
        if status == _STOPPED:
            stopped = True
            break
        if status == _HANDOVER:
            break
    state.counts = counts.tolist()
    state.first_index = first_index.tolist()
    state.first_value = first_value.tolist()
    state.last_value = last_value.tolist()
    reader.seek(state.offset, state.events, state.icount)
    return stopped


def summarize(path: str, *, id_table=None, assume_version=None,
              accel=None) -> LogSummary:
    use_c = _use_c(accel)
    state = ScanState()
    with LogReader(path, id_table=id_table,
                   assume_version=assume_version) as reader:
        try:
            if use_c:
                _c_scan(reader, state)
            for ev in reader:
                state.add(ev)
        except ReplayLogError as exc:
            exc.partial = build_summary(path, reader.header, state, exc)
            raise
        return build_summary(path, reader.header, state)


def find_icount(path: str, icount: int, *, id_table=None,
                assume_version=None, accel=None) -> int:
    use_c = _use_c(accel)
    with LogReader(path, id_table=id_table,
                   assume_version=assume_version) as reader:
        if icount <= 0:
            for ev in reader:
                return ev.index
        if use_c:
            state = ScanState()
            if _c_scan(reader, state, stop_icount=icount):
                return state.events
        for ev in reader:
            if ev.icount >= icount:
                return ev.index
    raise ValueError(f"the log holds {reader.icount} instructions, fewer "
                     f"than {icount}")


def events_around(path: str, index: int, context: int, *, id_table=None,
                  assume_version=None, accel=None) -> list[Event]:
    lo = max(1, index - context)
    hi = index + context
    window: list[Event] = []
    use_c = _use_c(accel)
    with LogReader(path, id_table=id_table,
                   assume_version=assume_version) as reader:
        if use_c and lo > 1:
            _c_scan(reader, ScanState(), stop_index=lo - 1)
        try:
            for ev in reader:
                if ev.index >= lo:
                    window.append(ev)
                if ev.index >= hi:
                    break
        except ReplayLogError as exc:
            if window and window[-1].index >= index:
                return window       # the fault lies after the target
            exc.partial = window
            raise
    if not window or window[-1].index < index:
        raise ValueError(f"the log has only {reader.events} events, "
                         f"no event {index}")
    return window


# render styles of _scan.render() (S_* in _scan.c); 0: Python renders it
_S_PY, _S_INSN, _S_STATIC, _S_ID, _S_HEX, _S_SIGNED = 0, 1, 2, 3, 4, 5
_S_CHAR_WRITE, _S_NET, _S_RANDOM = 6, 7, 8


def _render_style(ev: F.EventType) -> int:
    if ev.kind == F.K_INSN:
        return _S_INSN
    if ev.kind == F.K_NONE:
        return _S_STATIC
    if ev.kind == F.K_QWORD:
        if ev.group == "async":
            return _S_ID
        return _S_HEX if ev.group == "clock" else _S_SIGNED
    if ev.kind == F.K_CHAR_WRITE:
        return _S_CHAR_WRITE
    if ev.kind == F.K_NET and ev.group == "async":
        return _S_NET
    if ev.kind == F.K_RANDOM:
        return _S_RANDOM
    return _S_PY


def _render_tables(fmt: F.LogFormat) -> tuple[bytes, tuple, tuple]:
    """Per-id render styles, line heads (``NAME(id)``) and constant
    payload texts (of the events without payload)."""
    styles = bytearray(256)
    heads = [None] * 256
    statics = [b""] * 256
    for ev in fmt.events:
        styles[ev.id] = _render_style(ev)
        heads[ev.id] = f"{ev.name}({ev.id})".encode()
        if ev.kind == F.K_NONE:
            key = {"shutdown": "cause", "checkpoint": "checkpoint",
                   "async": "kind"}.get(ev.group)
            sample = Event(0, 0, ev.id, ev.name, ev.group,
                           {key: ev.arg} if key else {}, 0, 1)
            text = payload_text(sample)
            statics[ev.id] = (" " + text).encode() if text else b""
    return bytes(styles), tuple(heads), tuple(statics)


def write_text(path: str, out: BinaryIO, *, id_table=None,
               assume_version=None, accel=None, follow=False) -> int:
    """Write the text dump of the log to binary stream *out*.

    :returns: the number of events written
    :raises ReplayLogError: after writing every event decoded before it
    """
    use_c = _use_c(accel) and not follow
    with LogReader(path, id_table=id_table, assume_version=assume_version,
                   follow=follow) as reader:
        if use_c:
            _c_render(reader, out)
        lines = []
        try:
            for ev in reader:
                lines.append(text_line(ev))
                if len(lines) >= 4096:
                    out.write(("\n".join(lines) + "\n").encode())
                    lines.clear()
        finally:
            if lines:
                out.write(("\n".join(lines) + "\n").encode())
        return reader.events


def _c_render(reader: LogReader, out: BinaryIO) -> None:
    """Render with the C scanner as far as it goes; leave *reader* at the
    first event the pure decoder must handle (END, a fault, the end)."""
    fmt = reader.format
    table = event_table(fmt)
    styles, heads, statics = _render_tables(fmt)
    f = reader._f
    f.seek(reader.offset)
    events, icount = reader.events, reader.icount
    buf = b""
    base = reader.offset
    p = 0
    handover = False
    while not handover:
        chunk = f.read(CHUNK)
        if not chunk:
            break
        buf = buf[p:] + chunk
        base += p
        p = 0
        n = len(buf)
        while True:
            text, p, events, icount, status = _scan.render(
                buf, p, styles, heads, statics, events, icount)
            out.write(text)
            if status == _MORE:
                break
            if status == _FULL:
                continue
            try:
                ev = decode_at(fmt, table, buf, p, n, base, events, icount)
            except _Short:
                break
            except ReplayLogError:
                handover = True
                break
            if ev.group == "end":
                handover = True
                break
            out.write((text_line(ev) + "\n").encode())
            p += ev.size
            events, icount = ev.index, ev.icount
    reader.seek(base + p, events, icount)
