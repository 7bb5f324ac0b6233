"""Reader of QEMU record/replay logs (``-icount rr=record,rrfile=...``).

Independent of Avocado and of a running QEMU.  Main entry points:

* :func:`summarize` -- one pass over the log, a :class:`LogSummary`;
* :func:`iter_events` -- the log as a stream of :class:`Event`;
* :func:`find_icount` / :func:`events_around` -- navigation.

Events are numbered the way QEMU's scripts/replay-dump.py numbers them
(the first event is 1, END included).  Decoding errors raise a
:class:`ReplayLogError` subclass carrying ``offset``, ``event_index``
and, for :func:`summarize`, the ``partial`` summary of what was decoded
before the fault.

A C scanner (``_scan``, built optionally by setup.py) speeds up
:func:`summarize`, :func:`find_icount` and the text dump; every function
takes ``accel=False`` to force the pure-Python decoder, which gives
identical results.
"""

from __future__ import annotations

import os
from typing import Iterator

from avocado_rr.replaylog import backend
from avocado_rr.replaylog.errors import (BadPayload, EmptyLog,
                                         ReplayLogError, TruncatedLog,
                                         UnfinishedLog, UnknownEvent,
                                         UnknownVersion)
from avocado_rr.replaylog.formats import LogFormat
from avocado_rr.replaylog.reader import Event, LogReader
from avocado_rr.replaylog.summary import LogSummary

__all__ = ["summarize", "iter_events", "find_icount", "events_around",
           "Event", "LogSummary", "LogFormat", "ReplayLogError",
           "TruncatedLog", "UnknownEvent", "BadPayload", "UnknownVersion",
           "UnfinishedLog", "EmptyLog", "accelerated"]


def accelerated() -> bool:
    """True if the C scanner is available."""
    return backend.have_scan()


def summarize(path: str | os.PathLike, *,
              id_table: str | LogFormat | None = None,
              assume_version: int | None = None,
              accel: bool | None = None) -> LogSummary:
    """Decode the whole log and summarize it.

    :param id_table: force an event table variant, e.g. ``"7.1"``
    :param assume_version: format of a version-0 (unfinished) log
    :param accel: None: C scanner if available; False: pure Python;
                  True: C scanner or ImportError
    :raises ReplayLogError: with ``.partial``, the summary up to the fault
    """
    return backend.summarize(os.fspath(path), id_table=id_table,
                             assume_version=assume_version, accel=accel)


def iter_events(path: str | os.PathLike, *,
                id_table: str | LogFormat | None = None,
                assume_version: int | None = None,
                follow: bool = False) -> Iterator[Event]:
    """Yield every event of the log, then raise if it did not end cleanly.

    :param follow: wait for more data at the end of the file (a log being
                   recorded) until END arrives or it stops growing
    """
    with LogReader(path, id_table=id_table, assume_version=assume_version,
                   follow=follow) as reader:
        yield from reader


def find_icount(path: str | os.PathLike, icount: int, *,
                id_table: str | LogFormat | None = None,
                assume_version: int | None = None,
                accel: bool | None = None) -> int:
    """Index of the event at which the running icount reaches *icount*.

    That is the first event whose running total is >= *icount* (an
    INSTRUCTION event, or the first event for ``icount <= 0``).

    :raises ValueError: the log holds fewer instructions
    """
    return backend.find_icount(os.fspath(path), icount, id_table=id_table,
                               assume_version=assume_version, accel=accel)


def events_around(path: str | os.PathLike, index: int, context: int, *,
                  id_table: str | LogFormat | None = None,
                  assume_version: int | None = None,
                  accel: bool | None = None) -> list[Event]:
    """The events from ``index - context`` to ``index + context``.

    Errors of the log after that window are not raised; an error before
    its end is (with what was decoded up to it in ``.partial``, a list of
    events).
    """
    return backend.events_around(os.fspath(path), index, context,
                                 id_table=id_table,
                                 assume_version=assume_version, accel=accel)
