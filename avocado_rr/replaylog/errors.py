"""Errors raised while reading a replay log.

Every error carries the byte ``offset`` where decoding failed and the
``event_index`` (numbered like QEMU's replay-dump.py: the first event is
1) of the event that could not be decoded, and, where it makes sense, the
``partial`` summary of everything decoded before the fault.  Each class
has its own process exit code for ``avocado-rr dump``.
"""

from __future__ import annotations

from typing import Any

from avocado_rr.errors import AvocadoRRError


class ReplayLogError(AvocadoRRError):
    """A replay log could not be decoded to its end."""

    exit_code = 10

    def __init__(self, message: str, offset: int | None = None,
                 event_index: int | None = None, partial: Any = None):
        where = []
        if offset is not None:
            where.append(f"offset {offset}")
        if event_index is not None:
            where.append(f"event {event_index}")
        full = f"{message} (at {', '.join(where)})" if where else message
        super().__init__(full)
        self.reason = message
        self.offset = offset
        self.event_index = event_index
        self.partial = partial


class EmptyLog(ReplayLogError):
    """The file is empty or shorter than the 12-byte header."""

    exit_code = 11


class UnknownVersion(ReplayLogError):
    """The header holds a REPLAY_VERSION this reader does not know."""

    exit_code = 12


class UnfinishedLog(ReplayLogError):
    """The header version is 0: the recorder never finished the log.

    QEMU writes the version last, in ``replay_finish()``; a recorder that
    was killed (or is still running) leaves 0 there.  The events are
    decoded anyway (with the format given, or this QEMU's).
    """

    exit_code = 13


class TruncatedLog(ReplayLogError):
    """The file ends inside an event, or without an END event."""

    exit_code = 14


class UnknownEvent(ReplayLogError):
    """An event byte (or old-format async kind) outside the format."""

    exit_code = 15


class BadPayload(ReplayLogError):
    """A payload that cannot be right (absurd length, unknown sub-kind)."""

    exit_code = 16
