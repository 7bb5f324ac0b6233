"""``avocado-rr dump``: print a QEMU replay log.

Mounted by avocado_rr.cli (and later by the Avocado plugin) through
:func:`add_arguments` and :func:`run`; also runnable as
``python -m avocado_rr.replaylog``.

Exit codes: 0 the log decoded to a clean end; 1 the file could not be
opened or the request cannot be met (e.g. an icount beyond the log);
2 usage; 11 empty file, 12 unknown version, 13 unfinished log (header
version 0), 14 truncated log, 15 unknown event id, 16 impossible payload.
Everything decoded before a fault is printed before the error.
"""

from __future__ import annotations

import argparse
import json
import sys

from avocado_rr.replaylog import backend, formats
from avocado_rr.replaylog.errors import ReplayLogError
from avocado_rr.replaylog.reader import LogReader
from avocado_rr.replaylog.render import event_dict, text_line
from avocado_rr.replaylog.summary import summary_text

PROG = "avocado-rr dump"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the dump options to *parser*."""
    parser.add_argument("log", metavar="LOG", help="replay log (rrfile)")
    parser.add_argument("--format", choices=("text", "json"),
                        default="text",
                        help="text: replay-dump.py style lines; json: one "
                        "JSON object per event (with --summary: one object)")
    parser.add_argument("--summary", action="store_true",
                        help="print a summary instead of the events")
    nav = parser.add_mutually_exclusive_group()
    nav.add_argument("--around", type=int, metavar="ICOUNT",
                     help="print the events around the one at which the "
                     "instruction count reaches ICOUNT")
    nav.add_argument("--around-event", type=int, metavar="INDEX",
                     help="print the events around event number INDEX")
    nav.add_argument("--find-icount", type=int, metavar="ICOUNT",
                     help="print the number of the event at which the "
                     "instruction count reaches ICOUNT")
    parser.add_argument("--context", type=int, default=10, metavar="N",
                        help="events shown on each side with --around "
                        "(default: %(default)s)")
    parser.add_argument("--id-table", choices=sorted(formats.ID_TABLES),
                        help="event id table to use, e.g. 7.1 for a QEMU "
                        "7.1 log (default: guessed from the log's end)")
    parser.add_argument("--assume-version", type=lambda s: int(s, 0),
                        metavar="VERSION",
                        help="format of a log whose header version is 0 "
                        f"(default: {formats.DEFAULT_VERSION:#x})")
    parser.add_argument("--follow", action="store_true",
                        help="wait for a log that is still being recorded "
                        "to grow, until its END event")
    parser.add_argument("--pure", action="store_true",
                        help="use the pure-Python decoder even if the C "
                        "scanner is built")


def _fail(exc: BaseException, code: int) -> int:
    sys.stdout.flush()
    name = type(exc).__name__
    print(f"{PROG}: error: {name}: {exc}", file=sys.stderr)
    return code


def _print_summary(summary, fmt: str) -> None:
    if fmt == "json":
        print(json.dumps(summary.to_dict()))
    else:
        print(summary_text(summary))


def _print_events(events, fmt: str, target: int | None = None,
                  marker: str = "") -> None:
    for ev in events:
        if fmt == "json":
            d = event_dict(ev)
            if target is not None:
                d["target"] = ev.index == target
            print(json.dumps(d))
        else:
            line = text_line(ev)
            if ev.index == target:
                line = f"{line}    <== {marker}"
            print(line)


def run(args: argparse.Namespace) -> int:
    """Run the dump described by *args*; return the exit code."""
    opts = {"id_table": args.id_table, "assume_version": args.assume_version}
    accel = False if args.pure else None
    try:
        if args.summary:
            try:
                summary = backend.summarize(args.log, accel=accel, **opts)
            except ReplayLogError as exc:
                if exc.partial is not None:
                    _print_summary(exc.partial, args.format)
                return _fail(exc, exc.exit_code)
            _print_summary(summary, args.format)
            return 0
        if args.find_icount is not None:
            index = backend.find_icount(args.log, args.find_icount,
                                        accel=accel, **opts)
            print(json.dumps({"icount": args.find_icount, "event": index})
                  if args.format == "json" else index)
            return 0
        if args.around is not None or args.around_event is not None:
            if args.around is not None:
                target = backend.find_icount(args.log, args.around,
                                             accel=accel, **opts)
                marker = f"icount {args.around} is reached here"
            else:
                target = args.around_event
                marker = "event %d is here" % target
            try:
                window = backend.events_around(args.log, target,
                                               args.context, accel=accel,
                                               **opts)
            except ReplayLogError as exc:
                _print_events(exc.partial or [], args.format, target, marker)
                return _fail(exc, exc.exit_code)
            _print_events(window, args.format, target, marker)
            return 0
        if args.format == "text":
            sys.stdout.flush()
            backend.write_text(args.log, sys.stdout.buffer, accel=accel,
                               follow=args.follow, **opts)
            sys.stdout.buffer.flush()
            return 0
        with LogReader(args.log, follow=args.follow, **opts) as reader:
            _print_events(reader, "json")
        return 0
    except ReplayLogError as exc:
        return _fail(exc, exc.exit_code)
    except BrokenPipeError:
        return 0
    except (OSError, ValueError) as exc:
        return _fail(exc, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Decode a QEMU record/replay log.")
    add_arguments(parser)
    return run(parser.parse_args(argv))
