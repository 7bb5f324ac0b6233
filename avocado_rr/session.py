"""A live replay: one replay QEMU, paused between the steps a check asks.

:class:`ReplaySession` owns one replay QEMU of a recording from launch to
close.  It starts paused, with its shutdown action set to ``pause`` (a
replayed quit pauses instead of ending QEMU, so the stop point can be read
whichever of the quit and a break comes first when they are at the same
icount), and every wait on it (after a break, a ``cont``, a seek) asks QMP
with a short timeout, so that a stopped (SIGSTOP) or wedged QEMU is found
stalled within the stall timeout instead of blocking each question for
QMP's default 30 s.  A check then
moves it (:meth:`~ReplaySession.advance`, :meth:`~ReplaySession.run_to`,
:meth:`~ReplaySession.seek`) and looks into it while it is paused
(:meth:`~ReplaySession.probe`).

Sessions are made by :meth:`avocado_rr.engine.RecordReplay.session`, which
writes the command line beside the pair's other artifacts and can end the
session from another thread.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable

from avocado_rr.guestram import GuestRam
from avocado_rr.machine import MachineError, QemuMachine
from avocado_rr.pair import Recording, ReplayOutcome, ReplayState
from avocado_rr.probes import Checkpoint, Probe, take

LOG = logging.getLogger("avocado_rr.session")

#: seconds a command that loads a snapshot (``replay-seek``) or reads much
#: memory may take
SLOW_COMMAND_TIMEOUT = 30.0

#: called with (icount, target) each time a replay's icount changes
Progress = Callable[[int, int], None]


class ReplayStopped(MachineError):
    """A replay did not pause where it was asked to: it exited, stalled
    or ran out of time.  Carries how it ended."""

    def __init__(self, message: str, outcome: ReplayOutcome):
        super().__init__(message)
        self.outcome = outcome


class ReplaySession:
    """One replay QEMU of ``recording``, paused between steps.

    :param machine: the launched replay QEMU (paused by ``-S``)
    :param stall_timeout: seconds without icount progress before a wait
        counts the replay as stalled
    :param ram: the guest's RAM file (state checkpoints), closed with the
        session
    """

    def __init__(self, machine: QemuMachine, recording: Recording,
                 stall_timeout: float = 5.0,
                 log: logging.Logger | None = None,
                 ram: GuestRam | None = None):
        self.machine = machine
        self.recording = recording
        #: the guest's RAM file, when the session was started with one
        self.ram = ram
        self.stall_timeout = stall_timeout
        self.log = log or LOG
        #: the last icount a wait saw (None: none yet)
        self.icount: int | None = None
        #: seconds each QMP question of a wait may take
        self.wait_qmp_timeout = min(1.0, stall_timeout / 4)
        self.machine.cmd("set-action", shutdown="pause")

    @property
    def name(self) -> str:
        return self.machine.name

    # -- moving ---------------------------------------------------------
    def advance(self, target: int, timeout: float = 120.0,
                progress: Progress | None = None) -> ReplayOutcome:
        """Let the paused replay run until it stops at ``target`` (a
        ``replay-break``), at the log's end, or fails; how it ended."""
        self.machine.cmd("replay-break", icount=target)
        self.machine.cmd("cont")
        return self.watch(target, timeout, progress)

    def run_to(self, icount: int, timeout: float = 120.0) -> int:
        """:meth:`advance` to ``icount``; where the replay paused.

        :raises ReplayStopped: it exited, stalled or timed out first
        """
        return self._paused(self.advance(icount, timeout), icount, timeout)

    def seek(self, icount: int, timeout: float = 120.0) -> int:
        """``replay-seek`` to ``icount`` (backwards, QEMU loads the
        recording's snapshot and replays from it); where it paused.

        :raises ReplayStopped: it exited, stalled or timed out first
        """
        self.cmd("replay-seek", SLOW_COMMAND_TIMEOUT, icount=icount)
        return self.wait_paused(icount, timeout)

    def wait_paused(self, target: int, timeout: float = 120.0) -> int:
        """Wait until the running replay pauses (at ``target``, its break
        or the log's end); its icount.

        :raises ReplayStopped: it exited, stalled or timed out first
        """
        return self._paused(self.watch(target, timeout, None), target,
                            timeout)

    def _paused(self, outcome: ReplayOutcome, target: int,
                timeout: float) -> int:
        if outcome.state == ReplayState.STOPPED:
            self.log.info("%s: paused at icount %s", self.name,
                          outcome.icount)
            return outcome.icount
        what = {ReplayState.EXITED: "QEMU exited",
                ReplayState.STALLED: "no progress",
                ReplayState.TIMEOUT: f"still running after {timeout}s"}
        raise ReplayStopped(f"{self.name}: {what[outcome.state]} at icount "
                            f"{outcome.icount} of {target}", outcome)

    def watch(self, target: int, timeout: float,
              progress: Progress | None = None) -> ReplayOutcome:
        """Watch the running replay until it pauses, exits, makes no
        progress for the stall timeout, or ``timeout`` seconds pass."""
        with self.machine.qmp_timeout(self.wait_qmp_timeout):
            return self._watch(target, timeout, progress)

    def _watch(self, target: int, timeout: float,
               progress: Progress | None) -> ReplayOutcome:
        machine = self.machine
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
                self.icount = icount
                if progress:
                    progress(icount, target)
            if stopped or icount >= target:
                if self.status() not in ("running", "unknown"):
                    return ReplayOutcome(ReplayState.STOPPED, icount)
            if now - last_progress > self.stall_timeout:
                self.log.info("%s: no icount progress for %.1fs at %s of "
                              "%d", self.name, now - last_progress, icount,
                              target)
                return ReplayOutcome(ReplayState.STALLED, icount)
            if now > deadline:
                return ReplayOutcome(ReplayState.TIMEOUT, icount)

    # -- looking --------------------------------------------------------
    def status(self) -> str:
        """QEMU's run state (``query-status``), ``unknown`` if it does
        not answer in time."""
        try:
            return self.machine.cmd("query-status")["status"]
        except (MachineError, TimeoutError):
            return "unknown"

    def probe(self, probes: list[Probe], moment: str = "replay",
              timeout: float = SLOW_COMMAND_TIMEOUT) -> Checkpoint:
        """Run ``probes`` on the paused replay: a checkpoint at its icount.

        :raises MachineError: the replay is not paused
        """
        status = self.status()
        if status in ("running", "unknown"):
            raise MachineError(f"{self.name}: probes need a paused replay; "
                               f"it is {status}")
        with self.machine.qmp_timeout(timeout):
            icount = self.machine.cmd("query-replay")["icount"]
            return take(self.machine, probes, icount, moment)

    def cmd(self, command: str, timeout: float, **args: Any) -> Any:
        """A QMP command that may take longer than a wait's QMP timeout."""
        with self.machine.qmp_timeout(timeout):
            return self.machine.cmd(command, **args)

    def close(self) -> None:
        """End the replay QEMU (nothing of a replay needs an orderly exit)."""
        self.machine.kill(grace=0)
        if self.ram is not None:
            self.ram.close()

    def __enter__(self) -> "ReplaySession":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
