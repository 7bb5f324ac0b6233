"""Pure-Python streaming decoder of QEMU replay logs.

The log is read in chunks of :data:`CHUNK` bytes, so memory stays
constant whatever its size.  Events are numbered the way QEMU's
scripts/replay-dump.py numbers them: the first event after the header is
1, END included.
"""

from __future__ import annotations

import os
import struct
import time
from dataclasses import dataclass
from typing import BinaryIO, Iterator

from avocado_rr.errors import AvocadoRRError
from avocado_rr.replaylog import formats as F
from avocado_rr.replaylog.errors import (BadPayload, EmptyLog,
                                         ReplayLogError, TruncatedLog,
                                         UnfinishedLog, UnknownEvent,
                                         UnknownVersion)

HEADER_SIZE = 12
CHUNK = 1 << 20
#: arrays (char data, packets, random bytes) longer than this are taken
#: for a corrupt length, not for data
MAX_ARRAY = 64 << 20
#: sanity bound of the AUDIO_IN sample count
MAX_AUDIO_SAMPLES = 1 << 24

_U32 = struct.Struct(">I")
_I32 = struct.Struct(">i")
_U64 = struct.Struct(">Q")
_I64 = struct.Struct(">q")
_INPUT_KINDS = ("key", "btn", "rel", "abs", "mtt")


@dataclass(slots=True)
class Event:
    """One decoded event.

    :ivar index: number of the event, 1 for the first (like replay-dump.py)
    :ivar offset: byte offset of its event byte in the file
    :ivar id: the event byte
    :ivar name: replay-dump.py style name, e.g. ``EVENT_ASYNC_BH``
    :ivar group: instruction, interrupt, exception, async, shutdown,
                 char_write, char_read_all, char_read_all_error,
                 audio_out, audio_in, random, clock, checkpoint or end
    :ivar fields: the decoded payload
    :ivar icount: running instruction total after this event
    :ivar size: bytes the event takes, event byte included
    """

    index: int
    offset: int
    id: int
    name: str
    group: str
    fields: dict
    icount: int
    size: int

    @property
    def payload(self) -> dict:
        """Alias of :attr:`fields`."""
        return self.fields


@dataclass(frozen=True)
class LogHeader:
    """What the 12-byte header says, and the table chosen to decode."""

    header_version: int     # as written; 0 for an unfinished log
    format: F.LogFormat
    size: int               # file size when opened

    @property
    def version(self) -> int:
        """The format version used (the header's, or the assumed one)."""
        return self.format.version

    @property
    def unfinished(self) -> bool:
        return self.header_version == 0


class _Short(AvocadoRRError):
    """Not enough bytes in the buffer for this event."""


def read_header(f: BinaryIO, id_table: str | F.LogFormat | None = None,
                assume_version: int | None = None) -> LogHeader:
    """Read the header of an open log and choose its event table.

    :param id_table: force a variant, e.g. ``"7.1"`` (see
                     :data:`formats.ID_TABLES`)
    :param assume_version: the version to decode a version-0 (unfinished)
                           log with; default: the id_table's version, else
                           :data:`formats.DEFAULT_VERSION`
    """
    size = os.fstat(f.fileno()).st_size
    f.seek(0)
    head = f.read(HEADER_SIZE)
    if not head:
        raise EmptyLog("empty file: no replay log header", 0, None)
    if len(head) < HEADER_SIZE:
        raise TruncatedLog(f"file has only {len(head)} bytes, shorter than "
                           f"the {HEADER_SIZE}-byte header", len(head), None)
    version = _U32.unpack_from(head)[0]
    last = None
    if size > HEADER_SIZE:
        f.seek(size - 1)
        last = f.read(1)[0]
    f.seek(HEADER_SIZE)
    if isinstance(id_table, str) and id_table not in F.ID_TABLES:
        raise ValueError(f"unknown id table {id_table!r}; known: "
                         f"{', '.join(sorted(F.ID_TABLES))}")
    if version == 0:
        if isinstance(id_table, F.LogFormat):
            assumed = id_table.version
        elif id_table is not None:
            assumed = F.ID_TABLES[id_table].version
        else:
            assumed = assume_version or F.DEFAULT_VERSION
        if assumed not in F.FORMATS:
            raise UnknownVersion(f"cannot decode as version {assumed:#x}: "
                                 f"{F.unknown_version_message(assumed)}", 0)
        return LogHeader(0, F.choose_format(assumed, last, id_table), size)
    if version not in F.FORMATS:
        raise UnknownVersion(F.unknown_version_message(version), 0)
    try:
        fmt = F.choose_format(version, last, id_table)
    except KeyError as exc:
        raise ValueError(str(exc.args[0])) from None
    return LogHeader(version, fmt, size)


def _need(buf_len: int, p: int, n: int) -> None:
    if p + n > buf_len:
        raise _Short()


def _array(buf: bytes, p: int, n_buf: int, what: str,
           offset_base: int) -> tuple[bytes, int]:
    """Decode dword length + bytes at *p*; return (data, new p)."""
    _need(n_buf, p, 4)
    size = _U32.unpack_from(buf, p)[0]
    if size > MAX_ARRAY:
        raise BadPayload(f"impossible {what} length {size} (more than "
                         f"{MAX_ARRAY})", offset_base + p)
    p += 4
    _need(n_buf, p, size)
    return buf[p:p + size], p + size


def _input(buf: bytes, p: int, n: int, base: int,
           linux_keys: bool = False) -> tuple[dict, int]:
    _need(n, p, 4)
    kind = _U32.unpack_from(buf, p)[0]
    p += 4
    if kind >= len(_INPUT_KINDS):
        raise BadPayload(f"unknown input event kind {kind}", base + p - 4)
    name = _INPUT_KINDS[kind]
    if name == "key" and linux_keys:        # 0xe0200e on
        _need(n, p, 5)
        return {"input": "key", "linux_key": _U32.unpack_from(buf, p)[0],
                "down": bool(buf[p + 4])}, p + 5
    if name == "key":
        _need(n, p, 4)
        kvk = _U32.unpack_from(buf, p)[0]
        p += 4
        if kvk == 0:
            _need(n, p, 9)
            return {"input": "key", "number": _I64.unpack_from(buf, p)[0],
                    "down": bool(buf[p + 8])}, p + 9
        if kvk == 1:
            _need(n, p, 5)
            return {"input": "key", "qcode": _U32.unpack_from(buf, p)[0],
                    "down": bool(buf[p + 4])}, p + 5
        raise BadPayload(f"unknown key value kind {kvk}", base + p - 4)
    if name == "btn":
        _need(n, p, 5)
        return {"input": "btn", "button": _U32.unpack_from(buf, p)[0],
                "down": bool(buf[p + 4])}, p + 5
    if name in ("rel", "abs"):
        _need(n, p, 12)
        return {"input": name, "axis": _U32.unpack_from(buf, p)[0],
                "value": _I64.unpack_from(buf, p + 4)[0]}, p + 12
    _need(n, p, 32)
    typ, slot, tid, axis, value = struct.unpack_from(">IqqIq", buf, p)
    return {"input": "mtt", "type": typ, "slot": slot, "tracking_id": tid,
            "axis": axis, "value": value}, p + 32


def _async_payload(layout: int, buf: bytes, p: int, n: int,
                   base: int) -> tuple[dict, int]:
    """Payload of an async event kind (BH, INPUT, CHAR_READ, ...)."""
    if layout == F.K_QWORD:
        _need(n, p, 8)
        return {"id": _U64.unpack_from(buf, p)[0]}, p + 8
    if layout == F.K_NONE:
        return {}, p
    if layout == F.K_CHAR_READ:
        _need(n, p, 1)
        data, q = _array(buf, p + 1, n, "char read", base)
        return {"char": buf[p], "data": data}, q
    if layout == F.K_NET:
        _need(n, p, 5)
        flags = _U32.unpack_from(buf, p + 1)[0]
        data, q = _array(buf, p + 5, n, "net packet", base)
        return {"filter": buf[p], "flags": flags, "size": len(data),
                "data": data}, q
    return _input(buf, p, n, base, layout == F.K_INPUT_LINUX)


def _payload(ev: F.EventType, fmt: F.LogFormat, buf: bytes, p: int,
             n: int, base: int) -> tuple[dict, int]:
    """Decode the payload of *ev* starting at *p* (after the event byte)."""
    k = ev.kind
    g = ev.group
    if k == F.K_INSN:
        _need(n, p, 4)
        return {"count": _U32.unpack_from(buf, p)[0]}, p + 4
    if k == F.K_NONE or k == F.K_END:
        if g == "shutdown":
            return {"cause": ev.arg}, p
        if g == "checkpoint":
            return {"checkpoint": ev.arg}, p
        if g == "async":            # INPUT_SYNC
            return {"kind": ev.arg}, p
        return {}, p
    if g == "async" and k != F.K_ASYNC_CP and k != F.K_ASYNC_KIND:
        fields, q = _async_payload(k, buf, p, n, base)
        return dict(fields, kind=ev.arg), q
    if k == F.K_QWORD:
        _need(n, p, 8)
        v = _I64.unpack_from(buf, p)[0]
        if g == "clock":
            return {"clock": ev.arg, "value": v}, p + 8
        return {"played": v}, p + 8
    if k == F.K_DWORD:
        _need(n, p, 4)
        if g == "audio_out":
            return {"played": _U32.unpack_from(buf, p)[0]}, p + 4
        return {"error": _I32.unpack_from(buf, p)[0]}, p + 4
    if k == F.K_CHAR_WRITE:
        _need(n, p, 8)
        res, off = struct.unpack_from(">ii", buf, p)
        return {"res": res, "offset": off}, p + 8
    if k == F.K_ARRAY:
        data, q = _array(buf, p, n, "char read-all", base)
        return {"data": data}, q
    if k == F.K_RANDOM:
        _need(n, p, 4)
        ret = _I32.unpack_from(buf, p)[0]
        data, q = _array(buf, p + 4, n, "random", base)
        return {"ret": ret, "size": len(data), "data": data}, q
    if k == F.K_AUDIO_IN_N:                 # 0xe0200d on: no wpos
        _need(n, p, 8)
        recorded = _U64.unpack_from(buf, p)[0]
        if recorded > MAX_AUDIO_SAMPLES:
            raise BadPayload(f"impossible audio-in sample count {recorded}",
                             base + p)
        q = p + 8
        _need(n, q, 16 * recorded)
        samples = [struct.unpack_from(">qq", buf, q + 16 * i)
                   for i in range(recorded)]
        return {"recorded": recorded, "samples": samples}, q + 16 * recorded
    if k == F.K_AUDIO_IN_Q or k == F.K_AUDIO_IN_D:
        if k == F.K_AUDIO_IN_Q:
            _need(n, p, 16)
            recorded, wpos = struct.unpack_from(">QQ", buf, p)
            q = p + 16
        else:
            _need(n, p, 8)
            recorded, wpos = struct.unpack_from(">II", buf, p)
            q = p + 8
        if recorded > MAX_AUDIO_SAMPLES:
            raise BadPayload(f"impossible audio-in sample count {recorded}",
                             base + p)
        _need(n, q, 16 * recorded)
        samples = [struct.unpack_from(">qq", buf, q + 16 * i)
                   for i in range(recorded)]
        return {"recorded": recorded, "wpos": wpos,
                "samples": samples}, q + 16 * recorded
    # old-format async: (checkpoint,) kind, payload
    if k == F.K_ASYNC_CP:
        _need(n, p, 2)
        cp, akind = buf[p], buf[p + 1]
        q = p + 2
    else:
        _need(n, p, 1)
        cp, akind = None, buf[p]
        q = p + 1
    if akind >= len(fmt.async_kinds):
        raise UnknownEvent(f"unknown async event kind {akind} for format "
                           f"{fmt.name}", base + q - 1)
    kname = fmt.async_kinds[akind]
    fields, q = _async_payload(F._ASYNC_LAYOUT[kname], buf, q, n, base)
    fields = dict(fields, kind=kname)
    if cp is not None:
        fields["checkpoint"] = cp
    return fields, q


def event_table(fmt: F.LogFormat) -> dict[int, F.EventType]:
    """Event byte -> EventType of *fmt*."""
    return {ev.id: ev for ev in fmt.events}


def decode_at(fmt: F.LogFormat, table: dict[int, F.EventType], buf: bytes,
              p: int, n: int, base: int, index: int, icount: int) -> Event:
    """Decode the event at ``buf[p]`` (file offset ``base + p``).

    *index* and *icount* are the numbering and icount before it.

    :raises _Short: ``buf[:n]`` ends inside the event
    :raises ReplayLogError: the event is not valid
    """
    eid = buf[p]
    ev = table.get(eid)
    if ev is None:
        raise UnknownEvent(f"unknown event id {eid} (format {fmt.name} has "
                           f"ids 0..{fmt.end_id})", base + p, index + 1)
    try:
        fields, q = _payload(ev, fmt, buf, p + 1, n, base)
    except _Short:
        raise
    except ReplayLogError as exc:
        exc.event_index = index + 1
        exc.args = (f"{exc.reason} in {ev.name} (at offset {exc.offset}, "
                    f"event {index + 1})",)
        raise
    if ev.kind == F.K_INSN:
        icount += fields["count"]
    return Event(index + 1, base + p, eid, ev.name, ev.group, fields,
                 icount, q - p)


class LogReader:
    """Iterate over the events of one replay log file.

    :param path: the log
    :param id_table: force an event table variant (e.g. ``"7.1"``)
    :param assume_version: version to decode a version-0 log with
    :param follow: at the end of the data, wait for more (a log being
                   recorded) until END is read or *follow_timeout* seconds
                   pass without growth
    :param chunk: bytes read at a time
    """

    def __init__(self, path: str | os.PathLike, *,
                 id_table: str | F.LogFormat | None = None,
                 assume_version: int | None = None, follow: bool = False,
                 follow_timeout: float = 5.0, chunk: int = CHUNK):
        self.path = os.fspath(path)
        self._f = open(self.path, "rb")
        try:
            self.header = read_header(self._f, id_table, assume_version)
        except BaseException:
            self._f.close()
            raise
        self.format = self.header.format
        self.follow = follow
        self.follow_timeout = follow_timeout
        self.chunk = chunk
        #: number of events decoded so far, and where decoding stands
        self.events = 0
        self.icount = 0
        self.offset = HEADER_SIZE
        self.ended = False

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> "LogReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _read_more(self) -> bytes:
        """Next chunk, waiting for growth when following."""
        data = self._f.read(self.chunk)
        if data or not self.follow:
            return data
        deadline = time.monotonic() + self.follow_timeout
        while time.monotonic() < deadline:
            time.sleep(0.1)
            data = self._f.read(self.chunk)
            if data:
                return data
        return b""

    def seek(self, offset: int, events: int, icount: int) -> None:
        """Continue decoding at *offset*, an event boundary reached by
        another decoder after *events* events and *icount* instructions."""
        self.offset = offset
        self.events = events
        self.icount = icount

    def __iter__(self) -> Iterator[Event]:
        fmt = self.format
        table = event_table(fmt)
        self._f.seek(self.offset)
        buf = self._read_more()
        base = self.offset          # file offset of buf[0]
        p = 0
        n = len(buf)
        index = self.events
        icount = self.icount
        while True:
            if p >= n:
                more = self._read_more()
                if not more:
                    break
                buf = buf[p:] + more
                base += p
                p = 0
                n = len(buf)
                continue
            try:
                ev = decode_at(fmt, table, buf, p, n, base, index, icount)
            except _Short:
                more = self._read_more()
                if not more:
                    self._stop(index, icount, base + p)
                    name = table[buf[p]].name
                    where = f"file ends inside {name} ({n - p} of its " \
                            f"bytes present)"
                    if self.header.unfinished:
                        raise UnfinishedLog(
                            self._unfinished_msg(index) + "; " + where,
                            base + p, index + 1) from None
                    raise TruncatedLog(where, base + p, index + 1) from None
                buf = buf[p:] + more
                base += p
                p = 0
                n = len(buf)
                continue
            except ReplayLogError:
                self._stop(index, icount, base + p)
                raise
            index = ev.index
            icount = ev.icount
            p += ev.size
            self._stop(index, icount, base + p)
            yield ev
            if ev.group == "end":
                self.ended = True
                break
        self._stop(index, icount, base + p)
        if self.ended and base + p < os.fstat(self._f.fileno()).st_size:
            raise BadPayload("data after EVENT_END", base + p, index + 1)
        if self.header.unfinished and not (self.ended and self.follow and
                                           self._finished_meanwhile()):
            raise UnfinishedLog(self._unfinished_msg(index), base + p,
                                index + 1)
        if not self.ended:
            raise TruncatedLog(f"log ends after {index} events without "
                               f"EVENT_END", base + p, index + 1)

    def _finished_meanwhile(self) -> bool:
        """Whether the recorder wrote the header version after END."""
        deadline = time.monotonic() + self.follow_timeout
        while True:
            version = _U32.unpack(os.pread(self._f.fileno(), 4, 0))[0]
            if version:
                return version == self.format.version
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)

    def _unfinished_msg(self, index: int) -> str:
        return (f"header version is 0: the recorder did not finish this log "
                f"(killed, or still recording); {index} events decoded as "
                f"{self.format.name}")

    def _stop(self, index: int, icount: int, offset: int) -> None:
        self.events = index
        self.icount = icount
        self.offset = offset
