"""Record a QEMU run, replay it, and judge whether the replay reproduced it.

This module is the engine behind :class:`avocado_rr.testing.kernel.ReplayKernelTest`
and the ``avocado-rr`` command; it does not depend on Avocado.

A pair goes like this:

1. **record** (:class:`~avocado_rr.recorder.Recorder`): QEMU starts
   paused with ``-icount shift=N,rr=record``, runs until the console shows
   the stop pattern, pausing for its probes, and is stopped over QMP at
   the stop point; QEMU then quits while the guest is stopped;
2. **replay**: a :class:`~avocado_rr.session.ReplaySession` runs the same
   command line with ``rr=replay`` to a ``replay-break`` where the log's
   quit is, until it stops there (or ends, dies, stops progressing or
   times out).  The log's quit is normally at the stop point, but QEMU
   7.2 writes a SHUTDOWN event without first logging the instructions run
   since the previous event, so the log can hold the recording's last
   instructions *after* its quit: a replay processes the quit first and
   can never execute them.  The replay then stops at the quit, short of
   the recorded icount by exactly that tail (which the log shows);
3. **judge** (:func:`avocado_rr.judge.judge`): the console transcripts up
   to the stop point must be byte-identical (a console write logs the
   instruction count, so the console at the log's quit is the console at
   the stop point), the replay icount must equal the log's quit icount
   (the recorded stop icount but for that tail), and the recorded stop
   icount must equal the sum of the INSTRUCTION events in the log.

Every failed pair is written down the same way: ``verdict.json`` beside
the artifacts, and for a replay the failure bundle (report, repro script)
of :mod:`avocado_rr.diagnosis`.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import time
from dataclasses import dataclass, replace
from typing import Callable, Iterable, Pattern

from avocado_rr import diagnosis, loghealth, statecheck
from avocado_rr.console import (DEFAULT_FAILURE_PATTERNS, ConsoleWatcher,
                                MatchKind)
from avocado_rr.guestram import GuestRam, ram_block_args, uses_ram_file
from avocado_rr.judge import ExtraChecks, judge
from avocado_rr.machine import MachineError, QemuMachine
from avocado_rr.pair import (RRFILE, BootSpec, RecordFailed, Recording,
                             qemu_argv, replay_stop_icount, summarize_log)
from avocado_rr.probes import RecordProbes
from avocado_rr.recorder import Recorder
from avocado_rr.replaylog import ReplayLogError
from avocado_rr.session import Progress, ReplaySession
from avocado_rr.statecheck import CheckpointPlan
from avocado_rr.targets import QemuBinary
from avocado_rr.verdict import Verdict, VerdictKind

LOG = logging.getLogger("avocado_rr.engine")


def _write_cmdline(path: str, argv: list[str]) -> None:
    with open(path, "w", encoding="utf-8") as out:
        out.write(shlex.join(argv) + "\n")


@dataclass
class _Phase:
    """The phase that runs, for :meth:`RecordReplay.interrupt`."""

    name: str
    rrfile: str
    pattern: str = ""
    recording: Recording | None = None
    session: ReplaySession | None = None
    target: int | None = None


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
        self._phase: _Phase | None = None
        #: the last recording :meth:`record` made
        self.recording: Recording | None = None
        #: engines of more replays, ended with this one (:meth:`child`)
        self._children: list[RecordReplay] = []
        os.makedirs(self.outdir, exist_ok=True)

    def path(self, name: str) -> str:
        return os.path.join(self.outdir, name)

    def child(self, name: str) -> "RecordReplay":
        """An engine for more runs of this pair, in ``<outdir>/<name>``:
        :meth:`close` and :meth:`interrupt` end its QEMU too."""
        child = RecordReplay(self.qemu, self.path(name), self.log)
        child.interrupted = self.interrupted
        self._children.append(child)
        return child

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
        for child in self._children:
            child.interrupted = child.interrupted or self.interrupted
            child.close(grace)

    # -- record ---------------------------------------------------------
    def record(self, spec: BootSpec, pattern: str | Pattern,
               failure_patterns: Iterable[str | Pattern] =
               DEFAULT_FAILURE_PATTERNS,
               timeout: float = 120.0,
               rrfile: str | None = None,
               max_log_bytes: int = loghealth.MAX_LOG_BYTES,
               probes: RecordProbes | None = None,
               checkpoints: CheckpointPlan | None = None) -> Recording:
        """Record until ``pattern`` shows on the console.

        :param probes: pause the recording for these probes; what they
            saw is kept with the recording (:attr:`Recording.checkpoints`)
        :param checkpoints: pause it for state checkpoints (registers,
            RAM page digests, console length) on this plan, which a
            replay compares (:mod:`avocado_rr.statecheck`); the guest's
            RAM then lives in a file of /dev/shm
        :raises RecordFailed: the pattern never came, a failure pattern
            came, QEMU died, or the log cannot be trusted
        """
        rrfile = os.path.abspath(rrfile or self.path(RRFILE))
        steps = Recorder(self.qemu, rrfile, self.log)
        spec = steps.traced(spec)
        ram = GuestRam(spec.memory, "record") if checkpoints else None
        argv = qemu_argv(self.qemu, spec, "record", rrfile, steps.console,
                         trace_file=rrfile + ".trace") + \
            (ram.qemu_args() if ram else [])
        if checkpoints is not None:
            probes = steps.with_checkpoints(probes, checkpoints, ram)
        pattern_text = str(getattr(pattern, "pattern", pattern))
        self._phase = _Phase("record", rrfile, pattern_text)
        start = time.monotonic()
        try:
            machine = self._launch(argv, "record")
        except BaseException:
            if ram:
                ram.close()
            raise
        try:
            machine.cmd("cont")
            match, checkpoints = steps.wait(
                machine, ConsoleWatcher(steps.console), pattern,
                failure_patterns, timeout,
                loghealth.LogWatch(rrfile, max_log_bytes), probes)
            if match.kind != MatchKind.SUCCESS:
                raise steps.unmatched(match, machine, pattern_text, timeout)
            self.log.info("record: console matched %r", match.line)
            stop = steps.stop_point(machine, pattern_text, probes)
            exitcode = machine.quit()
        finally:
            self.close()
            if ram:
                ram.close()
        elapsed = time.monotonic() - start
        steps.check_log_written(machine, exitcode, stop.icount)
        recording = steps.save(spec, argv, pattern_text, elapsed, stop,
                               checkpoints, exitcode)
        self.log.info("record: icount %d in %.2fs, log %d bytes, %d "
                      "checkpoints", stop.icount, elapsed,
                      os.path.getsize(rrfile), len(recording.checkpoints))
        self._phase = None
        self.recording = recording
        return recording

    # -- replay ---------------------------------------------------------
    def session(self, recording: Recording, name: str = "replay",
                extra_args: Iterable[str] = (), trace: bool = False,
                stall_timeout: float = 5.0,
                ram: bool = False) -> ReplaySession:
        """Start a replay QEMU of ``recording``, paused, as a session.

        Its console goes to ``<name>-console.log`` (with ``trace``, QEMU's
        trace to ``<name>-trace.log``) in the pair's directory, its command
        line to ``<name>-cmdline.txt``; :meth:`close` and
        :meth:`interrupt` end it from another thread.

        :param extra_args: QEMU arguments for this replay alone (a gdb
            stub, trace options), after the recording's
        :param ram: keep the guest's RAM in a file the session reads
            (:attr:`ReplaySession.ram`), for state checkpoints; without,
            a recording made so gets the same RAM block in plain memory
        """
        guest_ram = GuestRam(recording.spec.memory, name) if ram else None
        argv = self.replay_argv(recording, name, trace,
                                ram_block=guest_ram is None) + \
            (guest_ram.qemu_args() if guest_ram else []) + list(extra_args)
        try:
            machine = self._launch(argv, name)
            return ReplaySession(machine, recording, stall_timeout, self.log,
                                 guest_ram)
        except BaseException:
            self.close(grace=0)
            if guest_ram:
                guest_ram.close()
            raise

    def replay_argv(self, recording: Recording, name: str = "replay",
                    trace: bool = False, ram_block: bool = True
                    ) -> list[str]:
        """The command line of a replay of ``recording`` named ``name``.

        :param ram_block: a recording whose RAM was in a file (state
            checkpoints) gets the same RAM block (its name is in the
            recording's snapshot), in plain memory
        """
        argv = qemu_argv(self.qemu, recording.spec, "replay",
                         recording.rrfile, self.path(f"{name}-console.log"),
                         trace_file=(self.path(f"{name}-trace.log")
                                     if trace else None))
        if ram_block and uses_ram_file(recording.argv):
            argv += ram_block_args(recording.spec.memory)
        return argv

    def replay(self, recording: Recording, timeout: float = 120.0,
               stall_timeout: float = 5.0,
               progress: Progress | None = None,
               extra_checks: ExtraChecks | None = None) -> Verdict:
        """Replay ``recording`` up to its icount and judge the result.

        :param extra_checks: more checks for :func:`avocado_rr.judge.judge`
        :raises MachineError: the replay QEMU could not be started
        """
        start = time.monotonic()
        log = summarize_log(recording.rrfile)
        stop_at = replay_stop_icount(recording, log)
        self._phase = phase = _Phase("replay", recording.rrfile,
                                     recording=recording, target=stop_at)
        state = statecheck.state_checkpoints(recording)
        try:
            phase.session = self.session(
                recording, trace=True, stall_timeout=stall_timeout,
                ram=statecheck.has_ram(state))
            try:
                outcome, points = statecheck.replay_through(
                    phase.session, state, stop_at, timeout, progress)
            finally:
                phase.session.close()
                self.close(grace=0)
            outcome = replace(outcome,
                              console=self.path("replay-console.log"),
                              stderr=phase.session.machine.stderr,
                              exitcode=phase.session.machine.exitcode,
                              replay_time=time.monotonic() - start)
            location = statecheck.locate_replay(
                recording, state, points, outcome, stop_at,
                self.path("replay-trace.log"))
            verdict = judge(recording, outcome, log, self.qemu.version_line,
                            extra_checks, location)
            return self._conclude(verdict, recording)
        finally:
            self._phase = None

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
        phase = self._phase
        self.close()
        if phase is None:
            return None
        if phase.name == "record":
            result = Verdict(
                verdict, f"{why} while recording, before "
                f"{phase.pattern!r} appeared; partial log {phase.rrfile} "
                f"kept: {loghealth.describe_log(phase.rrfile)}",
                qemu_version=self.qemu.version_line)
            self._write_verdict(result)
            return result
        recording = phase.recording
        icount = phase.session.icount if phase.session else None
        share = 100.0 * (icount or 0) / max(recording.icount, 1)
        result = Verdict(
            verdict,
            f"{why} during the replay, at icount {icount} of "
            f"{recording.icount} ({share:.1f}%)" if icount is not None
            else f"{why} during the replay, before it reported any "
                 f"progress (recorded icount {recording.icount})",
            recorded_icount=recording.icount,
            final_icount=recording.final_icount,
            replay_icount=icount, log_stop_icount=phase.target,
            record_time=recording.record_time,
            qemu_version=self.qemu.version_line)
        try:
            result = self._diagnose(result, recording)
        except (ReplayLogError, OSError) as details:
            self.log.warning("no report for the interrupted replay: %s",
                             details)
        if result.event_index is not None:
            result = replace(result, reason=(
                f"{result.reason}, log event {result.event_index} "
                f"({result.event_name})"))
        self._write_verdict(result)
        return result

    # -- verdicts -------------------------------------------------------
    def _conclude(self, verdict: Verdict,
                  recording: Recording | None = None) -> Verdict:
        """Every pair ends here: a failed replay is diagnosed, and the
        verdict is written (unless :meth:`interrupt` wrote its own)."""
        if self.interrupted:
            return verdict
        if not verdict.passed and recording is not None and \
                verdict.verdict != VerdictKind.RECORD_FAILED:
            verdict = self._diagnose(verdict, recording)
        self._write_verdict(verdict)
        return verdict

    def _diagnose(self, verdict: Verdict, recording: Recording) -> Verdict:
        """Locate the failure in the log and write the failure bundle;
        ``verdict`` with the log event and the report's path."""
        argv = self.replay_argv(recording, trace=True)
        trace_file = self.path("replay-trace.log")
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

    def amend(self, verdict: Verdict) -> Verdict:
        """Write a verdict that more checks completed (unless
        :meth:`interrupt` wrote its own)."""
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
              progress: Progress | None = None,
              max_log_bytes: int = loghealth.MAX_LOG_BYTES,
              between: Callable[[Recording], Verdict | None] | None = None,
              extra_checks: ExtraChecks | None = None,
              probes: RecordProbes | None = None,
              checkpoints: CheckpointPlan | None = None) -> Verdict:
        """Record, replay, judge. Every failure becomes a verdict, written
        to ``verdict.json`` (and a failed replay's diagnosed).

        :param between: called with the recording before the replay
            starts; a verdict it returns ends the pair (e.g. a
            ``record-failed`` of a workload that went wrong)
        :param extra_checks: more checks of the replay (see :meth:`replay`)
        :param probes: the recording's probes (see :meth:`record`)
        :param checkpoints: the recording's state checkpoints (see
            :meth:`record`), compared by the replay
        """
        try:
            recording = self.record(spec, pattern, failure_patterns, timeout,
                                    rrfile, max_log_bytes, probes,
                                    checkpoints)
        except RecordFailed as failure:
            return self._conclude(failure.verdict)
        except (MachineError, OSError) as details:
            # QEMU would not start; the output dir could not be written
            # (a TimeoutError is an OSError, often without a message)
            return self._conclude(Verdict(
                VerdictKind.RECORD_FAILED,
                str(details) or f"{type(details).__name__} while recording",
                qemu_version=self.qemu.version_line))
        verdict = between(recording) if between is not None else None
        if verdict is not None:
            return self._conclude(verdict)
        try:
            return self.replay(recording, timeout, stall_timeout, progress,
                               extra_checks)
        except (MachineError, OSError) as details:
            return self._conclude(Verdict(
                VerdictKind.ABORTED, str(details),
                recorded_icount=recording.icount,
                final_icount=recording.final_icount,
                record_time=recording.record_time,
                qemu_version=self.qemu.version_line), recording)
