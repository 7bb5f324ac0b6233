"""The data of a record/replay pair: what is booted, what was recorded.

:class:`BootSpec` (the machine, the same in both phases), :func:`qemu_argv`
(one phase's command line), :class:`Recording` (a finished recording and
its sidecar), :func:`replay_stop_icount` (where a replay of it stops) and
:class:`ReplayOutcome` (how a replay ended).  The engine
(:mod:`avocado_rr.engine`) makes them and judges the replay against the
recording; the diagnosis (:mod:`avocado_rr.diagnosis`) reads them.  This
module starts no QEMU.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from enum import StrEnum

from avocado_rr import replaylog
from avocado_rr.console import read_transcript
from avocado_rr.errors import AvocadoRRError
from avocado_rr.eventtrace import TRACE_EVENTS
from avocado_rr.probes import Checkpoint
from avocado_rr.targets import QemuBinary
from avocado_rr.verdict import Verdict


#: the replay log's file name in a pair's directory (beside it: ``.json``,
#: the sidecar, and ``.console``, the recorded console)
RRFILE = "replay.bin"


@dataclass
class BootSpec:
    """What to boot; the same for the recording and the replay."""

    arch: str
    machine: str
    #: None: no ``-kernel``, the machine boots its firmware
    kernel: str | None
    append: str = ""
    cpu: str | None = None
    memory: str = "512"
    initrd: str | None = None
    dtb: str | None = None
    shift: int = 7
    #: ``-bios``: a firmware image (a path, or a name in QEMU's data dir)
    bios: str | None = None
    #: extra QEMU arguments, appended as given
    extra_args: list[str] = field(default_factory=list)
    #: add ``-net none`` (no default NIC), unless the extra args set up one
    net_none: bool = True
    #: QEMU trace event patterns (``-trace enable=``) for both phases
    trace: list[str] = field(default_factory=list)
    #: QEMU ``-d`` log items for both phases, e.g. "exec,nochain"
    debug_flags: str | None = None
    #: ``-icount rrsnapshot=``: the recording saves a VM snapshot of this
    #: name at its start, the replay loads it (``replay-seek`` needs it);
    #: the extra args must then hold a writable qcow2 drive for it
    rrsnapshot: str | None = None
    #: trace the replay event streams of both phases, to name the first
    #: event where they part (:mod:`avocado_rr.eventtrace`; QEMU 11.1+)
    event_trace: bool = False

    @property
    def traced(self) -> bool:
        return bool(self.trace or self.debug_flags or self.event_trace)

    def qemu_args(self) -> list[str]:
        """The machine part of the command line (no rr, console or QMP)."""
        args = ["-nodefaults", "-display", "none", "-no-reboot",
                "-machine", self.machine, "-m", str(self.memory)]
        if self.cpu:
            args += ["-cpu", self.cpu]
        if self.bios:
            args += ["-bios", self.bios]
        if self.kernel:
            args += ["-kernel", self.kernel]
        if self.initrd:
            args += ["-initrd", self.initrd]
        if self.dtb:
            args += ["-dtb", self.dtb]
        if self.append:
            args += ["-append", self.append]
        if self.net_none:
            args += ["-net", "none"]
        return args + list(self.extra_args)


def qemu_argv(qemu: QemuBinary, spec: BootSpec, mode: str, rrfile: str,
              console: str, rrsnapshot: str | None = None,
              trace_file: str | None = None) -> list[str]:
    """The full QEMU command line of one phase (QMP excepted).

    Both phases differ only in ``rr=`` and in the host paths of the console
    and trace files, so what the guest sees is identical.
    """
    icount = f"shift={spec.shift},rr={mode},rrfile={rrfile}"
    rrsnapshot = rrsnapshot or spec.rrsnapshot
    if rrsnapshot:
        icount += f",rrsnapshot={rrsnapshot}"
    trace = []
    if spec.traced and trace_file:
        trace += ["-D", trace_file]
        if spec.debug_flags:
            trace += ["-d", spec.debug_flags]
        for pattern in spec.trace + (list(TRACE_EVENTS) if spec.event_trace
                                     else []):
            trace += ["-trace", f"enable={pattern}"]
    return ([qemu.path, "-S"] + spec.qemu_args() + trace +
            ["-chardev", f"file,id=console,path={console}",
             "-serial", "chardev:console",
             "-icount", icount])


@dataclass
class Recording:
    """A finished recording and what the replay is checked against.

    Saved as ``<rrfile>.json`` beside the log, so that a replay can be run
    later, by another process, from the files alone.
    """

    rrfile: str
    spec: BootSpec
    qemu_path: str
    qemu_version: str
    #: icount at the stop point (after the pattern)
    icount: int
    console: str
    argv: list[str]
    pattern: str
    record_time: float
    #: console bytes written up to the stop point
    console_bytes: int = 0
    #: icount when the recording ended; the log's INSTRUCTION sum
    final_icount: int = 0
    exitcode: int | None = None
    #: what the recording's probes saw at its pauses, the stop point last
    checkpoints: list[Checkpoint] = field(default_factory=list)

    @property
    def sidecar(self) -> str:
        return self.rrfile + ".json"

    def recorded_console(self) -> bytes:
        """The recorded console up to the stop point: what a replay (which
        stops there) must print."""
        return read_transcript(self.console)[:self.console_bytes]

    def save(self) -> None:
        with open(self.sidecar, "w", encoding="utf-8") as out:
            json.dump(asdict(self), out, indent=2)

    @classmethod
    def load(cls, rrfile: str) -> "Recording":
        path = rrfile + ".json"
        try:
            with open(path, encoding="utf-8") as sidecar:
                data = json.load(sidecar)
        except FileNotFoundError:
            raise FileNotFoundError(
                f"{path}: no recording metadata beside {rrfile}; record "
                f"with 'avocado-rr record --rrfile {rrfile}'") from None
        data["spec"] = BootSpec(**data["spec"])
        data["checkpoints"] = [Checkpoint(**checkpoint) for checkpoint
                               in data.get("checkpoints") or ()]
        recording = cls(**data)
        # the files may have moved together since the recording
        recording.rrfile = os.path.abspath(rrfile)
        recording.console = rrfile + ".console"
        return recording


class RecordFailed(AvocadoRRError):
    """The recording could not be made; carries the verdict."""

    def __init__(self, verdict: Verdict):
        super().__init__(verdict.reason)
        self.verdict = verdict


class OtherQemu(AvocadoRRError):
    """A replay asked of another QEMU than the one that recorded the log."""


def check_same_qemu(recording: Recording, qemu: QemuBinary) -> None:
    """Refuse to replay ``recording`` with another QEMU build than its own.

    A replay log is only meaningful to the QEMU build that wrote it: 10.0
    stalls at icount 0 on a 7.2 log, 11.1 refuses its version. The
    sidecar holds the recording's ``--version`` line.

    :raises OtherQemu: naming both versions and how to try it anyway.
    """
    if recording.qemu_version and recording.qemu_version != \
            qemu.version_line:
        raise OtherQemu(
            f"{recording.rrfile} was recorded by {recording.qemu_version!r}"
            f" ({recording.qemu_path}); this replay would run "
            f"{qemu.version_line!r} ({qemu.path}): a replay log replays "
            f"only on the QEMU build that recorded it (pass "
            f"--allow-other-qemu to try anyway)")


def replay_stop_icount(
        recording: Recording,
        log: "replaylog.LogSummary | replaylog.ReplayLogError | None" = None
        ) -> int:
    """Where a replay of ``recording`` stops: its stop icount, or the
    log's quit where QEMU logged the quit before the last instructions
    (see :mod:`avocado_rr.engine`).

    :param log: the log's summary, if already made
    """
    if log is None:
        log = summarize_log(recording.rrfile)
    if (isinstance(log, replaylog.LogSummary) and
            log.shutdown_icount is not None):
        return min(recording.icount, log.shutdown_icount)
    return recording.icount


def summarize_log(rrfile: str
                  ) -> "replaylog.LogSummary | replaylog.ReplayLogError":
    """The log's summary, or the error that stopped its reading."""
    try:
        return replaylog.summarize(rrfile)
    except replaylog.ReplayLogError as details:
        return details


class ReplayState(StrEnum):
    """How a replay ended (a member is its string)."""

    #: paused at the break or at the log's end
    STOPPED = "stopped"
    #: QEMU exited
    EXITED = "exited"
    #: no icount progress for the stall timeout
    STALLED = "stalled"
    #: still running at the time limit
    TIMEOUT = "timeout"


@dataclass
class ReplayOutcome:
    """How a replay ended, and what it left to judge."""

    state: ReplayState
    #: the icount the replay had reached (None: it never reported one)
    icount: int | None
    #: the replay's console transcript (a path)
    console: str | None = None
    #: QEMU's stderr and exit code (None: alive when it was stopped)
    stderr: str = ""
    exitcode: int | None = None
    #: seconds from the replay's start to its end
    replay_time: float | None = None

    def __post_init__(self):
        self.state = ReplayState(self.state)
