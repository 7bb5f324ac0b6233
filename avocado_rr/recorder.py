"""The record phase's steps, as :meth:`RecordReplay.record
<avocado_rr.engine.RecordReplay.record>` takes them.

The engine starts the recording QEMU, paused, and owns it (its ``close``
and ``interrupt`` may end it from another thread); a :class:`Recorder`
acts on it.  The recording runs until the console shows the stop pattern
(a failure pattern, an early exit, a runaway log or a full disk fails
it), pausing for its probes at the moments asked
(:class:`~avocado_rr.probes.RecordProbes`); it is then stopped over QMP
and its ``query-replay`` icount and console length are taken: that is
the stop point, where the probes run once more.  Once QEMU has quit, a
log that was not written whole is refused, and the recording's sidecar
is saved.  A step that finds the recording unusable raises
:class:`~avocado_rr.pair.RecordFailed` with the one ``record-failed``
verdict (:meth:`Recorder.failed`).
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, replace

from avocado_rr import eventtrace, loghealth
from avocado_rr.console import ConsoleMatch, ConsoleWatcher, MatchKind
from avocado_rr.guestram import GuestRam
from avocado_rr.judge import describe_exit
from avocado_rr.machine import MachineError, QemuMachine
from avocado_rr.pair import BootSpec, RecordFailed, Recording
from avocado_rr.probes import Checkpoint, RecordProbes, take
from avocado_rr.statecheck import RAM_SUFFIX, CheckpointPlan, state_probes
from avocado_rr.targets import QemuBinary
from avocado_rr.verdict import Verdict, VerdictKind


@dataclass
class StopPoint:
    """Where the recording was stopped after its pattern."""

    icount: int
    console_bytes: int
    #: what the probes saw there, if they run at the stop point
    checkpoint: Checkpoint | None


class Recorder:
    """The steps of one recording by ``qemu`` into ``rrfile`` (its console
    transcript beside it), logged to ``log``."""

    def __init__(self, qemu: QemuBinary, rrfile: str, log: logging.Logger):
        self.qemu = qemu
        self.rrfile = rrfile
        self.console = rrfile + ".console"
        self.log = log

    def traced(self, spec: BootSpec) -> BootSpec:
        """``spec``, without the event trace if this QEMU cannot trace the
        replay event streams (with a warning)."""
        if spec.event_trace and not eventtrace.supported(self.qemu.path):
            self.log.warning("%s has no replay_* trace events (QEMU 11.1 "
                             "has): the event streams are not traced",
                             self.qemu.version_line)
            spec = replace(spec, event_trace=False)
        return spec

    def with_checkpoints(self, probes: RecordProbes | None,
                         plan: CheckpointPlan,
                         ram: GuestRam | None) -> RecordProbes:
        """The state checkpoints' probes on ``plan`` (their RAM digests go
        to a new store beside the log), then ``probes``."""
        store = self.rrfile + RAM_SUFFIX
        if os.path.exists(store):
            os.unlink(store)
        return RecordProbes(
            state_probes(ram, self.console, store) +
            (probes.probes if probes else []), plan.next_after)

    def wait(self, machine: QemuMachine, watcher: ConsoleWatcher,
             pattern, failure_patterns, timeout: float,
             health: loghealth.LogWatch, probes: RecordProbes | None
             ) -> tuple[ConsoleMatch, list[Checkpoint]]:
        """Wait for the pattern, pausing for the probes when their
        schedule says."""
        start = time.monotonic()
        deadline = start + timeout
        checkpoints: list[Checkpoint] = []
        next_at = probes.next_after(0.0) if probes is not None else None
        while True:
            left = deadline - time.monotonic()
            if next_at is not None:
                left = min(left, start + next_at - time.monotonic())
            match = watcher.wait([pattern], failure_patterns, max(left, 0),
                                 machine.is_running, health.problem)
            if match.kind != MatchKind.TIMEOUT or \
                    time.monotonic() >= deadline:
                return match, checkpoints
            moment = f"t={time.monotonic() - start:.2f}s"
            try:
                checkpoint = self._pause_for_probes(machine, probes, moment)
            except TimeoutError as details:
                # a recording that cannot even pause: its log says why
                # (a runaway) where it can
                raise self.failed(
                    health.problem() or
                    f"the recording did not answer QMP 'stop' for its "
                    f"checkpoint at {moment} ({details or 'timed out'}): "
                    f"QEMU's main loop is hung", machine) from details
            if checkpoint is None:
                next_at = None    # QEMU is going; the wait will say why
            else:
                checkpoints.append(checkpoint)
                next_at = probes.next_after(time.monotonic() - start)

    def _pause_for_probes(self, machine: QemuMachine, probes: RecordProbes,
                          moment: str) -> Checkpoint | None:
        """Stop the recording, run the probes, resume it; None if QEMU
        went away meanwhile."""
        try:
            machine.cmd("stop")
            try:
                checkpoint = take(machine, probes.probes,
                                  machine.cmd("query-replay")["icount"],
                                  moment)
            finally:
                machine.cmd("cont")
        except MachineError as details:
            self.log.info("record: no checkpoint at %s: %s", moment,
                          details)
            return None
        self.log.info("record: checkpoint at icount %d (%s)",
                      checkpoint.icount, moment)
        return checkpoint

    def stop_point(self, machine: QemuMachine, pattern: str,
                   probes: RecordProbes | None) -> StopPoint:
        """Stop the guest after its pattern: the icount, the console's
        length, and the probes' checkpoint there."""
        try:
            machine.cmd("stop")
            icount = machine.cmd("query-replay")["icount"]
            console_bytes = os.path.getsize(self.console)
            checkpoint = None
            if probes is not None and probes.at_stop:
                checkpoint = take(machine, probes.probes, icount, "stop")
        except MachineError as details:
            raise self.failed(
                f"QEMU ended right after {pattern!r} appeared, before it "
                f"could be stopped (wait for an earlier line, or keep the "
                f"guest alive after it, e.g. no panic=-1): {details}",
                machine) from details
        return StopPoint(icount, console_bytes, checkpoint)

    def unmatched(self, match: ConsoleMatch, machine: QemuMachine,
                  pattern: str, timeout: float) -> RecordFailed:
        """The failure of a recording that ended without its pattern."""
        return self.failed(
            self._unmatched_reason(match, machine, pattern, timeout),
            # a stopped wait already says what the log's disk did
            None if match.kind == MatchKind.STOPPED else machine)

    def _unmatched_reason(self, match: ConsoleMatch, machine: QemuMachine,
                          pattern: str, timeout: float) -> str:
        """Why the recording ended without its pattern."""
        rrfile = self.rrfile
        if match.kind == MatchKind.FAILURE:
            return (f"recording hit failure pattern {match.pattern!r}: "
                    f"{match.line.strip()!r}")
        if match.kind == MatchKind.STOPPED:
            # end the recording before reading its log: a runaway writes
            # faster than the log can be read, and the reading would
            # never end while the log filled the disk
            machine.kill()
            return (f"{match.reason} before {pattern!r} appeared; partial "
                    f"log {rrfile} kept: {loghealth.describe_log(rrfile)}")
        if match.kind == MatchKind.EXITED:
            stderr = machine.stderr.strip()[-500:]
            return (f"QEMU {describe_exit(machine.exitcode)} while "
                    f"recording, before {pattern!r} appeared" +
                    (f": {stderr!r}" if stderr else "") +
                    f"; partial log {rrfile} kept: "
                    f"{loghealth.describe_log(rrfile)}")
        return f"{pattern!r} did not appear within {timeout}s of recording"

    def check_log_written(self, machine: QemuMachine, exitcode: int | None,
                          final_icount: int) -> None:
        """Refuse a log that was not written whole: its replay would look
        like a divergence."""
        rrfile = self.rrfile
        problem = loghealth.log_write_problem(rrfile, machine.stderr,
                                              exitcode)
        if problem is None:
            return
        if loghealth.LOG_WRITE_ERROR not in machine.stderr and \
                loghealth.log_complete(rrfile, final_icount):
            # a nearly full disk, but every byte of the log made it
            self.log.info("record: %s, but the log is complete", problem)
            return
        raise RecordFailed(Verdict(
            VerdictKind.RECORD_FAILED,
            f"{problem}; the recording is unusable and was not replayed "
            f"(log kept: {loghealth.describe_log(rrfile)})",
            qemu_version=self.qemu.version_line))

    def save(self, spec: BootSpec, argv: list[str], pattern: str,
             record_time: float, stop: StopPoint,
             checkpoints: list[Checkpoint], exitcode: int | None
             ) -> Recording:
        """The recording stopped at ``stop``, its sidecar written
        (:meth:`Recording.save`)."""
        recording = Recording(
            rrfile=self.rrfile, spec=spec, qemu_path=self.qemu.path,
            qemu_version=self.qemu.version_line, icount=stop.icount,
            console=self.console, argv=argv, pattern=pattern,
            record_time=record_time, console_bytes=stop.console_bytes,
            # stopped: nothing ran between the stop point and the quit
            final_icount=stop.icount, exitcode=exitcode,
            checkpoints=checkpoints + ([stop.checkpoint]
                                       if stop.checkpoint else []))
        try:
            recording.save()
        except OSError as details:
            raise self.failed(
                f"cannot save the recording's metadata {recording.sidecar}"
                f": {details}") from details
        return recording

    def failed(self, reason: str,
               machine: QemuMachine | None = None) -> RecordFailed:
        """The one record-side verdict: ``reason``, after what says that
        ``machine`` could not write its log (the console shares the log's
        disk: a full disk also hides the pattern)."""
        if machine is not None:
            problem = loghealth.log_write_problem(
                self.rrfile, machine.stderr, machine.exitcode)
            if problem:
                reason = f"{problem}; {reason}"
        return RecordFailed(Verdict(VerdictKind.RECORD_FAILED, reason,
                                    qemu_version=self.qemu.version_line))
