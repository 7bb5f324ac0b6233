"""The verdict on a record/replay pair, and the console comparison."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum

from avocado_rr.divergence import Location


class VerdictKind(StrEnum):
    """Every verdict a record/replay pair can end in.

    A member is its string (``VerdictKind.PASS == "pass"``, in JSON and
    f-strings too), so verdicts read back from JSON compare equal.
    """

    PASS = "pass"
    #: console or icount differ, or QEMU reported a replay error
    DIVERGED = "diverged"
    #: the replay stopped advancing while QEMU was alive
    STALLED = "stalled"
    #: QEMU died during the replay
    ABORTED = "aborted"
    #: no usable recording was made
    RECORD_FAILED = "record-failed"
    #: the pair's own time limit, or Avocado's test timeout
    TIMEOUT = "timeout"
    #: avocado-rr could not check the pair (a replay log format it does
    #: not know), though nothing it could check failed; neither a pass nor
    #: a divergence
    TOOL_LIMITATION = "tool-limitation"

#: QEMU replay error messages (7.2 and later) that mean the replay left
#: the recorded path.  Later releases add "(insn total T/L left, event E
#: is NAME)" to them; :func:`parse_replay_error` extracts those fields.
REPLAY_SYNC_ERRORS = (
    "Missing character write event",
    "Missing character read all event",
    "Missing random event",
    "Missing audio out event",
    "Missing audio in event",
    "Exception not in log",
    "Playback shouldn't have to iowait",
    "Replay: unknown event kind",
    "error reading the replay data",
    "replay read error",
    "Replay: invalid input log file version",
)

_SYNC_DETAIL = re.compile(r"insn total (?P<icount>-?\d+)/(?P<left>-?\d+) left,"
                          r" event (?P<event>\d+) is (?P<name>[\w-]+)")


@dataclass
class ReplayError:
    """A replay error QEMU printed, parsed."""

    message: str
    icount: int | None = None
    instructions_left: int | None = None
    event_index: int | None = None
    event_name: str | None = None


def parse_replay_error(stderr: str) -> ReplayError | None:
    """Find the first known replay error in QEMU's stderr."""
    for line in stderr.splitlines():
        if any(msg in line for msg in REPLAY_SYNC_ERRORS):
            error = ReplayError(message=line.strip())
            detail = _SYNC_DETAIL.search(line)
            if detail:
                error.icount = int(detail["icount"])
                error.instructions_left = int(detail["left"])
                error.event_index = int(detail["event"])
                error.event_name = detail["name"]
            return error
    return None


@dataclass
class ConsoleDiff:
    """Where two console transcripts first differ."""

    line_number: int          # 1-based
    recorded_line: str | None  # None: the recording has no such line
    replayed_line: str | None
    recorded_context: list[str]
    replayed_context: list[str]

    def describe(self) -> str:
        def show(lines, marker_line):
            out = []
            first = self.line_number - len(lines) + (marker_line is not None)
            for number, line in enumerate(lines, max(first, 1)):
                mark = ">" if number == self.line_number else " "
                out.append(f"  {mark}{number:6d}: {line}")
            if marker_line is None:
                out.append(f"  >{self.line_number:6d}: <end of transcript>")
            return "\n".join(out)
        return (f"first difference at console line {self.line_number}\n"
                f"recorded:\n{show(self.recorded_context, self.recorded_line)}"
                f"\nreplayed:\n{show(self.replayed_context, self.replayed_line)}")


def compare_consoles(recorded: bytes, replayed: bytes,
                     context: int = 3) -> ConsoleDiff | None:
    """None when byte-identical, else the first differing line."""
    if recorded == replayed:
        return None
    rec = recorded.decode("utf-8", "replace").split("\n")
    rep = replayed.decode("utf-8", "replace").split("\n")
    index = 0
    while index < min(len(rec), len(rep)) and rec[index] == rep[index]:
        index += 1
    start = max(0, index - context)

    def clean(lines):
        return [line.rstrip("\r") for line in lines]
    return ConsoleDiff(
        line_number=index + 1,
        recorded_line=rec[index].rstrip("\r") if index < len(rec) else None,
        replayed_line=rep[index].rstrip("\r") if index < len(rep) else None,
        recorded_context=clean(rec[start:index + 1]),
        replayed_context=clean(rep[start:index + 1]))


@dataclass
class Check:
    """One of the comparisons a verdict is made of."""

    name: str
    passed: bool
    detail: str


@dataclass
class Verdict:
    """The outcome of a record/replay pair (JSON-friendly)."""

    verdict: VerdictKind
    reason: str = ""
    checks: list[Check] = field(default_factory=list)
    #: icount of the recording at the stop point (the replay's target)
    recorded_icount: int | None = None
    #: icount when the recording ended (what the log must add up to)
    final_icount: int | None = None
    replay_icount: int | None = None
    #: where the log's quit is, so where a replay stops (QEMU 7.2 can log
    #: a recording's last instructions after it: then below
    #: recorded_icount)
    log_stop_icount: int | None = None
    log_icount: int | None = None
    log_events: int | None = None
    console_equal: bool | None = None
    console_diff: ConsoleDiff | None = None
    replay_error: ReplayError | None = None
    record_time: float | None = None
    replay_time: float | None = None
    log_size: int | None = None
    qemu_version: str | None = None
    #: the log event the replay stopped at (failed verdicts)
    event_index: int | None = None
    event_name: str | None = None
    #: path of the divergence report (failed verdicts)
    report: str | None = None
    #: where the replay first differed from the recording
    #: (:class:`avocado_rr.divergence.Location` as a dict)
    location: dict | None = None
    #: how several replays of the recording compared
    #: (:class:`avocado_rr.repeat.Repeatability` as a dict)
    replays: dict | None = None
    artifacts: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        # a plain string (JSON, callers of old) becomes its kind; an
        # unknown one raises ValueError
        self.verdict = VerdictKind(self.verdict)

    @property
    def passed(self) -> bool:
        return self.verdict == VerdictKind.PASS

    @property
    def overhead(self) -> float | None:
        """Replay time over record time."""
        if self.record_time and self.replay_time is not None:
            return self.replay_time / self.record_time
        return None

    def to_dict(self) -> dict:
        data = asdict(self)
        data["overhead"] = self.overhead
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "Verdict | None":
        """The verdict :meth:`to_dict` made ``data`` of (in verdict.json
        or a test's whiteboard); None when ``data`` holds no verdict.

        Keys that are not fields (``overhead``, which :meth:`to_dict`
        derives; ``icount``, which older versions wrote as a copy of
        ``replay_icount``; what a test adds beside the verdict) are left
        out.

        :raises ValueError: an unknown verdict kind
        """
        if not isinstance(data, dict) or "verdict" not in data:
            return None
        known = {item.name for item in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        values["checks"] = [Check(**check)
                            for check in values.get("checks") or ()]
        if values.get("console_diff") is not None:
            values["console_diff"] = ConsoleDiff(**values["console_diff"])
        if values.get("replay_error") is not None:
            values["replay_error"] = ReplayError(**values["replay_error"])
        values["artifacts"] = dict(values.get("artifacts") or {})
        return cls(**values)

    def finding_lines(self, indent: str = "", spaced: bool = False
                      ) -> list[str]:
        """The checks, the first console difference and QEMU's replay
        error: the part of the verdict's account that :meth:`summary` and
        the report (:func:`avocado_rr.diagnosis.report_text`) share.

        :param indent: put before each check
        :param spaced: an empty line before the console difference and
            before the replay error
        """
        gap = [""] if spaced else []
        lines = [f"{indent}[{'ok' if check.passed else 'FAIL'}] "
                 f"{check.name}: {check.detail}" for check in self.checks]
        if self.console_diff is not None:
            lines += gap + [self.console_diff.describe()]
        if self.replay_error is not None:
            lines += gap + [f"QEMU replay error: {self.replay_error.message}"]
        if self.location and (not self.passed or self.location.get(
                "transients")):
            lines += gap + Location(**self.location).describe()
        if self.replays:
            lines += gap + [f"repeated replays: {self.replays['kind']}: "
                            + "; ".join(self.replays["differences"])
                            if self.replays["differences"] else
                            f"repeated replays: {self.replays['kind']} "
                            f"({self.replays['replays']} replays)"]
        return lines

    def summary(self) -> str:
        """A human-readable multi-line account of the verdict."""
        lines = [f"verdict: {self.verdict}" +
                 (f" ({self.reason})" if self.reason else "")]
        return "\n".join(lines + self.finding_lines(indent="  "))
