"""Say where a replay went wrong, and keep what is needed to look again.

For a failed record/replay pair this module

* locates the replay's stopping point in the log (:func:`locate`): the
  event the replay was waiting at, and the events around it in dump form
  with a "replay is here" marker;
* writes the divergence report (``report.txt``): verdict, position
  against the recorded total, the log excerpt, the first differing console
  line, QEMU's replay error, QEMU version and both command lines;
* completes the failure bundle: ``repro.sh`` (replays the kept log with
  the exact command line), ``assets.json`` (sha256 of the booted files);
* compares record and replay traces (:func:`diff_traces`) when a test
  asked QEMU for them.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shlex
from dataclasses import dataclass, field

from avocado_rr import replaylog
from avocado_rr.pair import Recording
from avocado_rr.replaylog.render import text_line
from avocado_rr.verdict import Verdict

#: events shown on each side of the replay's position
CONTEXT = 8


@dataclass
class LogPosition:
    """Where in the log a replay stopped."""

    icount: int
    #: index (replay-dump.py numbering) of the event the replay waits at
    event_index: int | None = None
    event_name: str | None = None
    #: the events around it, in dump form, the position marked
    excerpt: list[str] = field(default_factory=list)
    error: str | None = None


def locate(rrfile: str, icount: int | None,
           context: int = CONTEXT) -> LogPosition:
    """Find the event at which a replay that reached ``icount`` waits.

    When the running total of the log reaches ``icount`` exactly at an
    INSTRUCTION event, the replay has executed that run and waits at the
    next event; otherwise it is inside the run.  Never raises: a log that
    can't be read gives a position with ``error`` set.
    """
    position = LogPosition(icount=icount or 0)
    try:
        index = replaylog.find_icount(rrfile, position.icount)
        events = replaylog.events_around(rrfile, index, context + 1)
    except (replaylog.ReplayLogError, ValueError, OSError) as details:
        position.error = str(details)
        return position
    reached = next((e for e in events if e.index == index), None)
    if reached is not None and reached.icount == position.icount:
        index += 1
    position.event_index = index
    for event in events:
        if abs(event.index - index) > context:
            continue
        line = text_line(event)
        if event.index == index:
            position.event_name = event.name
            line += "   <== replay is here"
        position.excerpt.append(line)
    return position


#: Parts of QEMU ``-d`` output that legitimately differ between record and
#: replay: x86's lazily computed condition codes depend on where
#: translation blocks end, and replay ends them at other places.
TRACE_VOLATILE = (re.compile(r"CC[SDO]=\S+"),)
#: the event-stream trace lines (replay_put_* in the recording,
#: replay_get_* in the replay) are compared by avocado_rr.eventtrace
_EVENT_STREAM = re.compile(r"^replay_(put|get)_")


def _mask(line: str, volatile) -> str:
    for regex in volatile:
        line = regex.sub("~", line)
    return line


def _other_lines(lines):
    return (line for line in lines if not _EVENT_STREAM.match(line))


def diff_traces(record_trace: str, replay_trace: str, context: int = 5,
                volatile=TRACE_VOLATILE) -> str | None:
    """The first line where two QEMU traces differ, side by side.

    Matches of ``volatile`` regular expressions are ignored.  When the
    replay's trace is a prefix of the recording's, the lines where the
    recording went on are shown instead (for a failed replay, that is
    where it stopped following); None when the traces agree as far as
    the recording's goes.
    """
    with open(record_trace, errors="replace") as rec_file, \
            open(replay_trace, errors="replace") as rep_file:
        history: list[tuple[str, str]] = []
        rec_lines = _other_lines(rec_file)
        pairs = itertools.zip_longest(rec_lines, _other_lines(rep_file))
        for number, (rec, rep) in enumerate(pairs, 1):
            if rec is None:
                return None
            rec = rec.rstrip("\n")
            if rep is None:
                following = [rec] + [line.rstrip("\n") for _, line in
                                     zip(range(context - 1), rec_lines)]
                lines = [f"the replay's trace ends after line {number - 1}, "
                         f"where the recording's goes on with:"]
                lines += [f"{number + offset:>7} {line[:100]}"
                          for offset, line in enumerate(following)]
                return "\n".join(lines)
            rep = rep.rstrip("\n")
            if _mask(rec, volatile) != _mask(rep, volatile):
                lines = [f"first trace difference at line {number}:",
                         f"{'record':<60} | replay"]
                start = number - len(history)
                for offset, (old_rec, old_rep) in enumerate(history):
                    lines.append(f"{start + offset:>7} {old_rec[:52]:<52} | "
                                 f"{old_rep[:60]}")
                lines.append(f"{number:>6}> {rec[:52]:<52} | {rep[:60]}")
                return "\n".join(lines)
            history = (history + [(rec, rep)])[-context:]
    return None


def repro_script(replay_argv: list[str], rrfile: str) -> str:
    """A shell script that replays the kept log with the same arguments.

    ``-S`` is dropped so the replay runs at once; a QMP socket next to
    the script allows ``query-replay``/``replay-break`` by hand.
    """
    argv = [arg for arg in replay_argv if arg != "-S"]
    return ("#!/bin/sh\n"
            "# Replays the kept log with the exact command line of the\n"
            "# failed replay. Attach with: qmp-shell ./qmp.sock\n"
            f"# log: {rrfile}\n"
            "cd \"$(dirname \"$0\")\" || exit 1\n"
            f"exec {shlex.join(argv)} \\\n"
            "    -qmp unix:./qmp.sock,server=on,wait=off \"$@\"\n")


def file_hashes(paths: list[str | None]) -> dict[str, str]:
    """sha256 of each booted file (kernel, initrd, dtb, images)."""
    from avocado_rr.download import sha256_file
    hashes = {}
    for path in paths:
        if path and os.path.isfile(path):
            hashes[path] = sha256_file(path)
    return hashes


def report_text(verdict: Verdict, recording: Recording | None,
                replay_argv: list[str],
                position: LogPosition | None,
                trace_diff: str | None = None) -> str:
    """The divergence report, as written to ``report.txt``."""
    lines = [f"record/replay verdict: {verdict.verdict}",
             f"reason: {verdict.reason}", ""]
    target = recording.icount if recording else None
    if position is not None:
        share = (f" ({100.0 * position.icount / target:.1f}% of the "
                 f"recorded {target})" if target else "")
        lines.append(f"replay stopped at icount {position.icount}{share}")
        if position.event_index is not None:
            lines.append(f"log position: event {position.event_index} "
                         f"({position.event_name})")
        if position.error:
            lines.append(f"log position unknown: {position.error}")
        if position.excerpt:
            lines += ["", "log around the replay's position:"]
            lines += [f"  {line}" for line in position.excerpt]
        lines.append("")
    lines += verdict.finding_lines(spaced=True)
    if trace_diff:
        lines += ["", trace_diff]
    lines += ["", f"QEMU: {verdict.qemu_version}"]
    if recording is not None:
        lines.append(f"record command line: {shlex.join(recording.argv)}")
    if replay_argv:
        lines.append(f"replay command line: {shlex.join(replay_argv)}")
    return "\n".join(lines) + "\n"


def write_bundle(outdir: str, verdict: Verdict, recording: Recording | None,
                 replay_argv: list[str], position: LogPosition | None,
                 trace_diff: str | None = None) -> str:
    """Write report.txt, repro.sh and assets.json; return the report path."""
    report = os.path.join(outdir, "report.txt")
    with open(report, "w", encoding="utf-8") as out:
        out.write(report_text(verdict, recording, replay_argv, position,
                              trace_diff))
    if recording is not None and replay_argv:
        repro = os.path.join(outdir, "repro.sh")
        with open(repro, "w", encoding="utf-8") as out:
            out.write(repro_script(replay_argv, recording.rrfile))
        os.chmod(repro, 0o755)
        spec = recording.spec
        with open(os.path.join(outdir, "assets.json"), "w",
                  encoding="utf-8") as out:
            json.dump(file_hashes([spec.kernel, spec.initrd, spec.dtb,
                                   spec.bios]), out, indent=2)
    return report
