"""Record a QEMU run, replay it, and judge whether the replay reproduced it.

This module is the engine behind :class:`avocado_rr.testing.kernel.ReplayKernelTest`
and the ``avocado-rr`` command; it does not depend on Avocado.

A pair goes like this:

1. **record**: QEMU starts paused with ``-icount shift=N,rr=record``, runs
   until the console shows the stop pattern (a failure pattern or an early
   exit fails the recording), is stopped over QMP, and its ``query-replay``
   icount and console length are taken: that is the stop point.  QEMU then
   quits while the guest is stopped;
2. **replay**: the same command line with ``rr=replay`` starts paused; its
   shutdown action is set to ``pause`` and a ``replay-break`` is set where
   the log's quit is, and the replay runs until it stops there (or ends,
   dies, stops progressing or times out).  The log's quit is normally at
   the stop point, but QEMU 7.2 writes a SHUTDOWN event without first
   logging the instructions run since the previous event, so the log can
   hold the recording's last instructions *after* its quit: a replay
   processes the quit first and can never execute them.  The replay then
   stops at the quit, short of the recorded icount by exactly that tail
   (which the log shows);
3. **judge** (:func:`avocado_rr.judge.judge`): the console transcripts up
   to the stop point must be byte-identical (a console write logs the
   instruction count, so the console at the log's quit is the console at
   the stop point), the replay icount must equal the log's quit icount
   (the recorded stop icount but for that tail), and the recorded stop
   icount must equal the sum of the INSTRUCTION events in the log.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import signal
import time
from dataclasses import replace
from typing import Callable, Iterable, Pattern

from avocado_rr import diagnosis, replaylog
from avocado_rr.console import (DEFAULT_FAILURE_PATTERNS, ConsoleWatcher,
                                MatchKind)
from avocado_rr.judge import ExtraChecks, describe_exit, judge
from avocado_rr.machine import MachineError, QemuMachine
# the pair's data lives in avocado_rr.pair; imported from here too
from avocado_rr.pair import (BootSpec, OtherQemu, RecordFailed, Recording,
                             ReplayOutcome, ReplayState, check_same_qemu,
                             qemu_argv, replay_stop_icount)
from avocado_rr.pair import summarize_log as _summarize
from avocado_rr.qemu_binary import QemuBinary
from avocado_rr.verdict import Verdict, VerdictKind

LOG = logging.getLogger("avocado_rr.engine")

__all__ = ["BootSpec", "LOG_WRITE_ERROR", "MAX_LOG_BYTES", "OtherQemu",
           "RRFILE", "RecordFailed", "RecordReplay", "Recording",
           "ReplayOutcome", "check_same_qemu", "qemu_argv",
           "replay_stop_icount"]

#: the engine's former name of :class:`avocado_rr.pair.ReplayOutcome`
_ReplayOutcome = ReplayOutcome

#: File names inside a pair's directory
RRFILE = "replay.bin"
#: A recording whose log grows past this before its pattern is runaway
MAX_LOG_BYTES = 1 << 30


def _write_cmdline(path: str, argv: list[str]) -> None:
    with open(path, "w", encoding="utf-8") as out:
        out.write(shlex.join(argv) + "\n")


class RecordReplay:
    """Runs record/replay pairs, writing every artifact into ``outdir``.

    The artifacts of a pair (log, both console transcripts, both command
    lines, QEMU's stderr, the verdict) stay in ``outdir``; nothing is
    deleted here.  :meth:`close` kills whatever QEMU is still running and
    may be called from another thread (Avocado's tearDown on timeout).
    """

    def __init__(self, qemu: QemuBinary, outdir: str,
                 log: logging.Logger | None = None):
        self.qemu = qemu
        self.outdir = os.path.abspath(outdir)
        self.log = log or LOG
        self.active: QemuMachine | None = None
        #: set by :meth:`interrupt`: why the pair was ended from outside
        self.interrupted: str | None = None
        #: "record" or "replay" while one runs, and where it is
        self._phase: str | None = None
        self._where: dict = {}
        #: the last recording :meth:`record` made
        self.recording: Recording | None = None
        os.makedirs(self.outdir, exist_ok=True)

    def path(self, name: str) -> str:
        return os.path.join(self.outdir, name)

    def _launch(self, argv: list[str], name: str) -> QemuMachine:
        if self.interrupted:
            raise MachineError(f"{name} not started: {self.interrupted}")
        _write_cmdline(self.path(f"{name}-cmdline.txt"), argv)
        machine = QemuMachine(argv, self.outdir, name)
        self.active = machine
        machine.launch()
        self.log.info("%s: %s", name, shlex.join(machine.argv))
        return machine

    def close(self, grace: float = 2.0) -> None:
        """Kill the running QEMU, if any (see :meth:`QemuMachine.kill`)."""
        machine, self.active = self.active, None
        if machine is not None:
            machine.kill(grace)

    # -- record ---------------------------------------------------------
    def record(self, spec: BootSpec, pattern: str | Pattern,
               failure_patterns: Iterable[str | Pattern] =
               DEFAULT_FAILURE_PATTERNS,
               timeout: float = 120.0,
               rrfile: str | None = None,
               max_log_bytes: int = MAX_LOG_BYTES) -> Recording:
        """Record until ``pattern`` shows on the console.

        :raises RecordFailed: the pattern never came, a failure pattern
            came, or QEMU died.
        """
        rrfile = os.path.abspath(rrfile or self.path(RRFILE))
        console = rrfile + ".console"
        argv = qemu_argv(self.qemu, spec, "record", rrfile, console,
                         trace_file=rrfile + ".trace")
        pattern_text = getattr(pattern, "pattern", pattern)
        self._phase = "record"
        self._where = {"rrfile": rrfile, "pattern": pattern_text}
        start = time.monotonic()
        machine = self._launch(argv, "record")
        try:
            machine.cmd("cont")

            def log_too_big() -> bool:
                return (os.path.exists(rrfile) and
                        os.path.getsize(rrfile) > max_log_bytes)

            def disk_full() -> bool:
                # the console is on the log's disk: once it is full, the
                # pattern can no longer come
                return _free_space(rrfile) < LOW_SPACE_BYTES
            match = ConsoleWatcher(console).wait(
                [pattern], failure_patterns, timeout,
                lambda: (machine.is_running() and not log_too_big() and
                         not disk_full()))
            if match.kind == MatchKind.EXITED and machine.is_running() and \
                    disk_full():
                failure = self._record_failure(match, machine, pattern_text,
                                               timeout, rrfile)
                self.close()
                raise RecordFailed(failure)
            if match.kind == MatchKind.EXITED and machine.is_running():
                self.close()
                raise RecordFailed(Verdict(
                    VerdictKind.RECORD_FAILED,
                    f"runaway recording: the log grew past "
                    f"{max_log_bytes >> 20} MiB before {pattern_text!r} "
                    f"appeared; {_describe_log(rrfile)}",
                    qemu_version=self.qemu.version_line))
            if match.kind != MatchKind.SUCCESS:
                raise RecordFailed(self._record_failure(match, machine,
                                                        pattern_text,
                                                        timeout, rrfile))
            self.log.info("record: console matched %r", match.line)
            try:
                machine.cmd("stop")
                icount = machine.cmd("query-replay")["icount"]
                console_bytes = os.path.getsize(console)
                # stopped: nothing runs between here and the quit
                final_icount = icount
            except MachineError as details:
                problem = _log_write_problem(rrfile, machine.stderr,
                                             machine.exitcode)
                raise RecordFailed(Verdict(
                    VerdictKind.RECORD_FAILED,
                    (f"{problem}; " if problem else "") +
                    f"QEMU ended right after {pattern_text!r} appeared, "
                    f"before it could be stopped (wait for an earlier line, "
                    f"or keep the guest alive after it, e.g. no panic=-1): "
                    f"{details}", qemu_version=self.qemu.version_line)) \
                    from details
            exitcode = machine.quit()
        finally:
            self.close()
        elapsed = time.monotonic() - start
        problem = _log_write_problem(rrfile, machine.stderr, exitcode)
        if problem and LOG_WRITE_ERROR not in machine.stderr and \
                _log_complete(rrfile, final_icount):
            # a nearly full disk, but every byte of the log made it
            self.log.info("record: %s, but the log is complete", problem)
            problem = None
        if problem:
            # never replay a half-written log: its replay would look like
            # a divergence
            raise RecordFailed(Verdict(
                VerdictKind.RECORD_FAILED,
                f"{problem}; the recording is unusable and was not "
                f"replayed (log kept: {_describe_log(rrfile)})",
                qemu_version=self.qemu.version_line))
        recording = Recording(
            rrfile=rrfile, spec=spec, qemu_path=self.qemu.path,
            qemu_version=self.qemu.version_line, icount=icount,
            console=console, argv=argv, pattern=str(pattern_text),
            record_time=elapsed, console_bytes=console_bytes,
            final_icount=final_icount, exitcode=exitcode)
        try:
            recording.save()
        except OSError as details:
            raise RecordFailed(Verdict(
                VerdictKind.RECORD_FAILED,
                f"cannot save the recording's metadata {recording.sidecar}"
                f": {details}", qemu_version=self.qemu.version_line)) \
                from details
        self.log.info("record: icount %d in %.2fs, log %d bytes", icount,
                      elapsed, os.path.getsize(rrfile))
        self._phase = None
        self.recording = recording
        return recording

    def _record_failure(self, match, machine: QemuMachine, pattern: str,
                        timeout: float, rrfile: str) -> Verdict:
        if match.kind == MatchKind.FAILURE:
            reason = (f"recording hit failure pattern {match.pattern!r}: "
                      f"{match.line.strip()!r}")
        elif match.kind == MatchKind.EXITED:
            stderr = machine.stderr.strip()[-500:]
            ended = ("was stopped by avocado-rr" if machine.exitcode is None
                     else describe_exit(machine.exitcode))
            reason = (f"QEMU {ended} while recording, before {pattern!r} "
                      f"appeared" + (f": {stderr!r}" if stderr else "") +
                      f"; partial log {rrfile} kept: {_describe_log(rrfile)}")
        else:
            reason = f"{pattern!r} did not appear within {timeout}s of recording"
        # the console shares the log's disk: a full disk hides the pattern
        problem = _log_write_problem(rrfile, machine.stderr,
                                     machine.exitcode)
        if problem:
            reason = f"{problem}; {reason}"
        return Verdict(VerdictKind.RECORD_FAILED, reason, qemu_version=self.qemu.version_line)

    # -- replay ---------------------------------------------------------
    def replay(self, recording: Recording, timeout: float = 120.0,
               stall_timeout: float = 5.0,
               progress: Callable[[int, int], None] | None = None,
               extra_checks: ExtraChecks | None = None) -> Verdict:
        """Replay ``recording`` up to its icount and judge the result.

        :param extra_checks: more checks for :func:`avocado_rr.judge.judge`
        """
        argv = self.replay_argv(recording, trace=True)
        console = self.path("replay-console.log")
        trace_file = self.path("replay-trace.log")
        start = time.monotonic()
        log = _summarize(recording.rrfile)
        stop_at = replay_stop_icount(recording, log)
        self._phase = "replay"
        self._where = {"recording": recording, "argv": argv,
                       "trace_file": trace_file, "target": stop_at,
                       "icount": None}
        machine = self.launch_replay(argv)
        try:
            machine.cmd("replay-break", icount=stop_at)
            machine.cmd("cont")
            # a stopped (SIGSTOP) or wedged QEMU must not block the
            # watchdog on a QMP answer
            machine.set_qmp_timeout(min(1.0, stall_timeout / 4))
            outcome = self._drive_replay(machine, stop_at, timeout,
                                         stall_timeout, progress)
        finally:
            # nothing of a replay needs an orderly exit
            self.close(grace=0)
        outcome = replace(outcome, console=console, stderr=machine.stderr,
                          exitcode=machine.exitcode,
                          replay_time=time.monotonic() - start)
        verdict = judge(recording, outcome, log, self.qemu.version_line,
                        extra_checks)
        if not verdict.passed and not self.interrupted:
            verdict = self._diagnose(verdict, recording, argv, trace_file)
        if not self.interrupted:
            self._write_verdict(verdict)
        self._phase = None
        return verdict

    def replay_argv(self, recording: Recording, name: str = "replay",
                    trace: bool = False) -> list[str]:
        """The command line of a replay of ``recording`` named ``name``:
        its console goes to ``<name>-console.log`` (with ``trace``, QEMU's
        trace to ``<name>-trace.log``) in the pair's directory."""
        return qemu_argv(self.qemu, recording.spec, "replay",
                         recording.rrfile, self.path(f"{name}-console.log"),
                         trace_file=(self.path(f"{name}-trace.log")
                                     if trace else None))

    def launch_replay(self, argv: list[str], name: str = "replay"
                      ) -> QemuMachine:
        """Start a replay QEMU (paused, as :meth:`close` ends it).

        Its shutdown action is ``pause``: a replayed quit pauses instead of
        ending QEMU, so the stop point can be read whichever of the quit
        and a break comes first when they are at the same icount.
        """
        machine = self._launch(argv, name)
        try:
            machine.cmd("set-action", shutdown="pause")
        except BaseException:
            self.close(grace=0)
            raise
        return machine

    def run_to(self, machine: QemuMachine, icount: int,
               timeout: float = 120.0, stall_timeout: float = 10.0) -> int:
        """Let a paused replay run to ``icount`` (``replay-break``) and
        wait until it stops (:meth:`wait_paused`); its icount."""
        machine.cmd("replay-break", icount=icount)
        machine.cmd("cont")
        return self.wait_paused(machine, icount, timeout, stall_timeout)

    def seek(self, machine: QemuMachine, icount: int,
             timeout: float = 120.0, stall_timeout: float = 10.0) -> int:
        """``replay-seek`` a paused replay to ``icount`` (backwards, QEMU
        loads the recording's snapshot and replays from it) and wait until
        it stops (:meth:`wait_paused`); its icount."""
        machine.cmd("replay-seek", icount=icount)
        return self.wait_paused(machine, icount, timeout, stall_timeout)

    def wait_paused(self, machine: QemuMachine, target: int,
                    timeout: float = 120.0,
                    stall_timeout: float = 10.0) -> int:
        """Wait until a running replay stops (at ``target``, its break, or
        at the log's end); its icount.

        :raises MachineError: QEMU exited
        :raises TimeoutError: the replay made no progress for
            ``stall_timeout`` seconds, or still ran after ``timeout``
        """
        outcome = self._drive_replay(machine, target, timeout,
                                     stall_timeout, None)
        if outcome.state == ReplayState.STOPPED:
            self.log.info("%s: paused at icount %s", machine.name,
                          outcome.icount)
            return outcome.icount
        if outcome.state == ReplayState.EXITED:
            raise MachineError(f"QEMU exited at icount {outcome.icount}")
        if outcome.state == ReplayState.STALLED:
            raise TimeoutError(f"no progress at icount {outcome.icount} of "
                               f"{target}")
        raise TimeoutError(f"still at icount {outcome.icount} of {target} "
                           f"after {timeout}s")

    def interrupt(self, why: str,
                  verdict: VerdictKind = VerdictKind.TIMEOUT
                  ) -> Verdict | None:
        """End the pair from another thread and say where it was.

        For Avocado's tearDown after its test timeout, while the test
        thread may still drive QEMU: QEMU is ended (a recording gets the
        SIGTERM grace to finish its log), no QEMU starts after this, and
        ``verdict.json`` (and, for a replay, the report) gets a ``verdict``
        naming the phase and the icount reached; the test thread's own
        verdict is no longer saved.

        :return: that verdict, or None when no phase was running
        """
        self.interrupted = why
        phase, where = self._phase, dict(self._where)
        self.close()
        if phase is None:
            return None
        if phase == "record":
            rrfile = where["rrfile"]
            result = Verdict(
                verdict, f"{why} while recording, before "
                f"{where['pattern']!r} appeared; partial log {rrfile} "
                f"kept: {_describe_log(rrfile)}",
                qemu_version=self.qemu.version_line)
        else:
            recording, icount = where["recording"], where["icount"]
            share = 100.0 * (icount or 0) / max(recording.icount, 1)
            result = Verdict(
                verdict,
                f"{why} during the replay, at icount {icount} of "
                f"{recording.icount} ({share:.1f}%)" if icount is not None
                else f"{why} during the replay, before it reported any "
                     f"progress (recorded icount {recording.icount})",
                recorded_icount=recording.icount,
                final_icount=recording.final_icount,
                replay_icount=icount, log_stop_icount=where["target"],
                record_time=recording.record_time,
                qemu_version=self.qemu.version_line)
            try:
                result = self._diagnose(result, recording, where["argv"],
                                        where["trace_file"])
            except Exception as details:  # pylint: disable=broad-except
                self.log.info("no report for the interrupted replay: %s",
                              details)
            if result.event_index is not None:
                result = replace(result, reason=(
                    f"{result.reason}, log event {result.event_index} "
                    f"({result.event_name})"))
        self._write_verdict(result)
        return result

    def _diagnose(self, verdict: Verdict, recording: Recording,
                  argv: list[str], trace_file: str) -> Verdict:
        """Locate the failure in the log and write the failure bundle;
        ``verdict`` with the log event and the report's path."""
        icount = verdict.replay_icount
        if verdict.replay_error and verdict.replay_error.icount is not None:
            icount = verdict.replay_error.icount
        position = diagnosis.locate(recording.rrfile, icount)
        verdict = replace(verdict, event_index=position.event_index,
                          event_name=position.event_name)
        trace_diff = None
        if recording.spec.traced and os.path.exists(trace_file):
            trace_diff = diagnosis.diff_traces(recording.rrfile + ".trace",
                                               trace_file)
        report = diagnosis.write_bundle(
            self.outdir, verdict, recording, argv, position, trace_diff)
        for line in diagnosis.report_text(verdict, recording, argv, position,
                                          trace_diff).splitlines():
            self.log.info("%s", line)
        return replace(verdict, report=report)

    def _drive_replay(self, machine: QemuMachine, target: int,
                      timeout: float, stall_timeout: float,
                      progress) -> ReplayOutcome:
        deadline = time.monotonic() + timeout
        last_icount, last_progress = -1, time.monotonic()
        while True:
            stopped = machine.wait_event("STOP", 0.5) is not None
            if not machine.is_running():
                return ReplayOutcome(ReplayState.EXITED, last_icount
                                     if last_icount >= 0 else None)
            try:
                icount = machine.cmd("query-replay")["icount"]
            except (MachineError, TimeoutError):
                icount = last_icount
            now = time.monotonic()
            if icount != last_icount:
                last_icount, last_progress = icount, now
                self._where["icount"] = icount
                if progress:
                    progress(icount, target)
            if stopped or icount >= target:
                try:
                    status = machine.cmd("query-status")["status"]
                except (MachineError, TimeoutError):
                    status = "unknown"
                if status not in ("running", "unknown"):
                    return ReplayOutcome(ReplayState.STOPPED, icount)
            if now - last_progress > stall_timeout:
                self.log.info("replay: no icount progress for %.1fs at %s of "
                              "%d", now - last_progress, icount, target)
                return ReplayOutcome(ReplayState.STALLED, icount)
            if now > deadline:
                return ReplayOutcome(ReplayState.TIMEOUT, icount)

    def _record_failed(self, verdict: Verdict) -> Verdict:
        if not self.interrupted:
            self._write_verdict(verdict)
        return verdict

    def _write_verdict(self, verdict: Verdict) -> None:
        try:
            with open(self.path("verdict.json"), "w",
                      encoding="utf-8") as out:
                json.dump(verdict.to_dict(), out, indent=2)
        except OSError as details:      # a full disk: the verdict is
            self.log.info("cannot write verdict.json: %s", details)

    # -- both -----------------------------------------------------------
    def check(self, spec: BootSpec, pattern: str | Pattern,
              failure_patterns: Iterable[str | Pattern] =
              DEFAULT_FAILURE_PATTERNS,
              timeout: float = 120.0, stall_timeout: float = 5.0,
              rrfile: str | None = None,
              progress: Callable[[int, int], None] | None = None,
              max_log_bytes: int = MAX_LOG_BYTES,
              between: Callable[[Recording], Verdict | None] | None = None,
              extra_checks: ExtraChecks | None = None) -> Verdict:
        """Record, replay, judge. Record failures become verdicts too.

        :param between: called with the recording before the replay
            starts; a verdict it returns ends the pair (e.g. a
            ``record-failed`` of a workload that went wrong)
        :param extra_checks: more checks of the replay (see :meth:`replay`)
        """
        try:
            recording = self.record(spec, pattern, failure_patterns, timeout,
                                    rrfile, max_log_bytes)
        except RecordFailed as failure:
            return self._record_failed(failure.verdict)
        except (MachineError, OSError) as details:
            # OSError: the output dir could not be written (full disk...)
            return Verdict(VerdictKind.RECORD_FAILED, str(details),
                           qemu_version=self.qemu.version_line)
        verdict = between(recording) if between is not None else None
        if verdict is not None:
            return self._record_failed(verdict)
        try:
            return self.replay(recording, timeout, stall_timeout, progress,
                               extra_checks)
        except MachineError as details:
            return Verdict(VerdictKind.ABORTED, str(details),
                           recorded_icount=recording.icount,
                           record_time=recording.record_time,
                           qemu_version=self.qemu.version_line)


def _describe_log(rrfile: str) -> str:
    """What a (possibly unfinished) log is made of, for a verdict."""
    try:
        summary = replaylog.summarize(rrfile)
    except replaylog.ReplayLogError as details:
        summary = details.partial
    if summary is None:
        return "the log can't be read"
    top = sorted(summary.counts.items(), key=lambda kv: -kv[1])[:3]
    kinds = ", ".join(f"{name} x{count}" for name, count in top)
    return (f"{summary.events} events up to icount {summary.icount}, "
            f"most of them {kinds}")


#: what QEMU (7.2 and later) prints, once, when a write to the replay log
#: fails; it then records on, writing nothing more to the log
LOG_WRITE_ERROR = "replay write error"
#: a file system with less free space than this is full
LOW_SPACE_BYTES = 64 << 10


def _log_write_problem(rrfile: str, stderr: str,
                       exitcode: int | None) -> str | None:
    """Why the log may be incomplete: a full disk, a write error, a file
    size limit; None when nothing says so."""
    if exitcode == -signal.SIGXFSZ:
        return (f"QEMU was killed by SIGXFSZ: {rrfile} reached the file "
                f"size limit (ulimit -f)")
    free = _free_space(rrfile)
    if free < LOW_SPACE_BYTES:
        size = os.statvfs(os.path.dirname(rrfile))
        return (f"no space left on the file system of {rrfile} "
                f"({free} bytes free of {size.f_blocks * size.f_frsize})")
    if LOG_WRITE_ERROR in stderr:
        return (f"QEMU could not write the replay log {rrfile} "
                f"({LOG_WRITE_ERROR!r}: its file system is full or the "
                f"file size limit, ulimit -f, was reached)")
    return None


def _free_space(rrfile: str) -> float:
    """Bytes QEMU may still write beside ``rrfile`` (inf if unknown)."""
    try:
        fs = os.statvfs(os.path.dirname(rrfile))
    except OSError:
        return float("inf")
    # root may write into the blocks reserved for it
    blocks = fs.f_bfree if os.geteuid() == 0 else fs.f_bavail
    return blocks * fs.f_frsize


def _log_complete(rrfile: str, final_icount: int) -> bool:
    """The log ends cleanly and adds up to the recording's icount."""
    log = _summarize(rrfile)
    return (isinstance(log, replaylog.LogSummary) and log.clean_end and
            log.icount == final_icount)
