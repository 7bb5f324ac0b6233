"""Judge a replay against its recording: the checks and the one verdict.

:func:`judge` is a pure function of what a pair left behind (the
:class:`~avocado_rr.pair.Recording`, the replay's
:class:`~avocado_rr.pair.ReplayOutcome`, the log's summary): it reads the
two console transcripts and returns a new :class:`~avocado_rr.verdict.Verdict`,
starting no QEMU and writing nothing.  The checks:

* **console**: the replay's transcript equals the recording's up to the
  stop point, byte for byte;
* **replay icount**: the replay stopped at the log's quit (the recorded
  stop icount, but for the tail QEMU 7.2 logs after the quit: see
  :mod:`avocado_rr.engine`);
* **log icount**: the recorded icount equals the sum of the log's
  INSTRUCTION events;
* **state**: at every checkpoint the recording kept, the replay's
  registers and RAM equal the recording's, or differ only transiently
  (:mod:`avocado_rr.divergence`): a replay that reproduces the console
  and the icount but not the guest's state is no pass;
* whatever a caller's ``extra_checks`` add (the Linux cases' markers and
  disk image), judged like these.
"""

from __future__ import annotations

import os
import shlex
import signal
from typing import Callable

from avocado_rr import replaylog
from avocado_rr.console import read_transcript
from avocado_rr.divergence import Location
from avocado_rr.pair import (Recording, ReplayOutcome, ReplayState,
                             replay_stop_icount, summarize_log)
from avocado_rr.verdict import (Check, Verdict, VerdictKind, compare_consoles,
                                parse_replay_error)

#: more checks of a replay, made after it ended: ``(recording, outcome)``
ExtraChecks = Callable[[Recording, ReplayOutcome], "list[Check]"]


def judge(recording: Recording, outcome: ReplayOutcome,
          log: "replaylog.LogSummary | replaylog.ReplayLogError | None"
          = None, qemu_version: str | None = None,
          extra_checks: ExtraChecks | None = None,
          location: Location | None = None) -> Verdict:
    """The verdict on the replay of ``recording`` that ended in ``outcome``.

    :param log: the log's summary (or its reading error), if already made
    :param qemu_version: the ``--version`` line of the replaying QEMU
    :param extra_checks: more checks, judged with the built-in ones: a
        failed one makes an otherwise passing pair ``diverged``
    :param location: what comparing the state checkpoints found
    """
    if log is None:
        log = summarize_log(recording.rrfile)
    stop_at = replay_stop_icount(recording, log)
    replay_error = parse_replay_error(outcome.stderr)
    recorded = recording.recorded_console()
    replayed = read_transcript(outcome.console)
    diff = compare_consoles(recorded, replayed)
    checks = [Check("console", diff is None,
                    _console_detail(recorded, replayed, diff))]
    detail = f"replay {outcome.icount}, recorded {recording.icount}"
    if stop_at != recording.icount:
        detail += (f"; the log's quit is at icount {stop_at}: QEMU "
                   f"logged the recording's last "
                   f"{recording.icount - stop_at} instructions after "
                   f"it, and no replay runs them")
    checks.append(Check("replay icount", outcome.icount == stop_at, detail))
    log_icount = log_events = None
    if isinstance(log, replaylog.ReplayLogError):
        checks.append(Check("log icount", False,
                            f"unreadable log, {type(log).__name__}: {log}"))
    else:
        log_icount, log_events = log.icount, log.events
        checks.append(Check(
            "log icount", log.icount == recording.final_icount,
            f"log sum {log.icount}, recorded {recording.final_icount}"
            f" at the end of the recording"))
    if location is not None and location.kind != "no-checkpoints":
        checks.append(_state_check(location))
    if extra_checks is not None:
        checks += extra_checks(recording, outcome)
    kind, reason = _classify(recording, outcome, log, replay_error, checks)
    if kind != VerdictKind.PASS and recording.qemu_version and \
            recording.qemu_version != qemu_version:
        reason = (f"recorded by {recording.qemu_version}, replayed by "
                  f"{qemu_version}: {reason}")
    return Verdict(
        kind, reason, checks=checks,
        recorded_icount=recording.icount,
        final_icount=recording.final_icount,
        replay_icount=outcome.icount, log_stop_icount=stop_at,
        log_icount=log_icount, log_events=log_events,
        console_equal=diff is None, console_diff=diff,
        replay_error=replay_error, record_time=recording.record_time,
        replay_time=outcome.replay_time,
        log_size=os.path.getsize(recording.rrfile),
        qemu_version=qemu_version,
        location=location.to_dict() if location is not None else None,
        artifacts={"rrfile": recording.rrfile,
                   "record_console": recording.console,
                   "replay_console": outcome.console,
                   "record_cmdline": shlex.join(recording.argv)})


def _state_check(location: Location) -> Check:
    transient = (f", {len(location.transients)} transient difference(s)"
                 if location.transients else "")
    if location.kind == "divergence":
        registers = (f"registers {', '.join(list(location.registers)[:6])}"
                     f" differ" if location.registers else "registers equal")
        pages = (f"{location.page_count} RAM page(s) differ: first at "
                 f"0x{location.pages[0] * 4096:x}" if location.page_count
                 else "RAM equal")
        return Check("state", False, (
            f"the guest's state differs from the recording's from "
            f"icount {location.first_different_icount} "
            f"({location.share(location.first_different_icount)}) on "
            f"({registers}; {pages}); last equal at "
            f"{location.last_equal_icount}{transient}"))
    if location.kind == "failure":
        return Check("state", True, (
            f"{location.compared} checkpoint(s) equal up to icount "
            f"{location.last_equal_icount}, where the replay was still "
            f"right{transient}"))
    return Check("state", True, f"{location.compared} checkpoint(s) "
                 f"equal{transient}")


def _console_detail(recorded: bytes, replayed: bytes, diff) -> str:
    if diff is None:
        return f"{len(recorded)} bytes identical"
    if recorded.startswith(replayed):
        return (f"the replay's {len(replayed)} bytes match the recording's "
                f"first bytes, but it stopped short of the recorded "
                f"{len(recorded)}")
    return (f"line {diff.line_number} differs: recorded "
            f"{diff.recorded_line!r}, replayed {diff.replayed_line!r}")


def _classify(recording: Recording, outcome: ReplayOutcome, log,
              replay_error, checks: list[Check]
              ) -> tuple[VerdictKind, str]:
    """The verdict's kind and reason; the first that applies wins."""
    failed = [check for check in checks if not check.passed]
    if outcome.state == ReplayState.EXITED and replay_error is None:
        return VerdictKind.ABORTED, (
            f"QEMU {describe_exit(outcome.exitcode)} during replay, last "
            f"seen at icount {outcome.icount} of {recording.icount}: "
            f"{outcome.stderr.strip()[-500:]!r}")
    if replay_error is not None:
        return VerdictKind.DIVERGED, f"QEMU: {replay_error.message}"
    if outcome.state == ReplayState.STALLED:
        share = 100.0 * (outcome.icount or 0) / max(recording.icount, 1)
        return VerdictKind.STALLED, (
            f"replay stopped progressing at icount {outcome.icount} of "
            f"{recording.icount} ({share:.1f}%) while QEMU was still alive")
    if outcome.state == ReplayState.TIMEOUT:
        return VerdictKind.TIMEOUT, (
            f"replay still running at icount {outcome.icount} of "
            f"{recording.icount} when the time limit was reached")
    if (isinstance(log, replaylog.UnknownVersion) and
            [check.name for check in failed] == ["log icount"]):
        # the replay agreed on everything avocado-rr could check; the
        # log's format is what it cannot read: not the replay's fault
        return VerdictKind.TOOL_LIMITATION, (
            f"avocado-rr cannot read this replay log ({log.reason}): "
            f"console and replay icount matched, the log icount was not "
            f"checked")
    if failed:
        return VerdictKind.DIVERGED, "; ".join(
            f"{c.name} check failed: {c.detail}" for c in failed)
    return VerdictKind.PASS, ""


def describe_exit(code: int | None) -> str:
    """How QEMU ended: ``exited with N`` or ``was killed by SIGNAME``."""
    if code is not None and code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with {code}"
