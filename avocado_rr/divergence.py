"""Where a replay first differs from its recording: checkpoints compared.

A recording keeps, at each of its pauses, the guest's architectural
state (:mod:`avocado_rr.statecheck`): every CPU register and a digest of
each RAM page.  The replay stops at the same instruction counts and takes
the same probes.  This module compares the two and decides what a
difference means.

The two sides are *not* always equal at a clean checkpoint: an interrupt
entry counts no instruction, and ``replay-break`` stops before the log's
events at its icount are processed, so a recording paused just after
entering an interrupt handler differs from its replay paused just before
(PC, stack pointer, flags, one stack page), and agrees again at the next
checkpoint.  So a run of checkpoints in a row that differ is judged as a whole:

* every one of them differs only where an interrupt or exception entry
  at that very icount (the log holds one) can make it differ (program
  counter, stack pointer, flags, a couple of RAM pages; the program
  counter at least): **boundary** transients, never a divergence, on
  either side of the entry (a 7.2 x86 recording paused inside the
  handler while its replay stopped before it; an aarch64 replay of a
  virtio-net tx=bh recording entered the vector where its recording had
  not, at two checkpoints in a row);
* a run the replay recovers from (a later checkpoint agrees again) in
  which every checkpoint is explained by an event at its very icount:
  an entry as above, or an asynchronous I/O completion (``ASYNC``: a
  block or network request's data lands in RAM without counting an
  instruction) with only a few RAM pages different and no register:
  **boundary** transients too (an aarch64 tx=bh replay on 11.1 entered
  the vector where its recording had not, then at the next checkpoint
  had one page less of a block read, then agreed);
* a single checkpoint that differs otherwise, and the next one agrees
  again: a **recovered** transient;
* anything else (a difference that persists over two checkpoints or
  more, or that no later checkpoint recovers from) is a **divergence**:
  the run's first checkpoint is the first different one, the equal one
  before it the last equal one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum

#: register names of HMP ``info registers`` that are TCG's bookkeeping,
#: not guest state (x86's lazily computed condition codes)
VOLATILE_REGISTERS = frozenset({"CCS", "CCD", "CCO"})
#: log events (parts of their names) that change CPU state without
#: counting an instruction
ENTRY_EVENTS = ("INTERRUPT", "EXCEPTION")
#: registers an interrupt or exception entry changes, per name pattern
ENTRY_REGISTERS = frozenset({
    # x86: instruction and stack pointers, flags, interrupt inhibition
    "RIP", "EIP", "RSP", "ESP", "EFL", "RFL", "II", "HLT", "CPL",
    # arm/aarch64, ppc, s390x, mips, riscv: PC, SP, status registers
    "PC", "SP", "PSTATE", "CPSR", "SPSR", "NIP", "MSR", "SRR0", "SRR1",
    # 32-bit arm's HMP names: R13 (SP), R14 (LR), R15 (PC), banked by
    # the mode an entry switches to, and PSR
    "R13", "R14", "R15", "PSR",
    "LR", "ELR_EL1", "ESR_EL1", "FAR_EL1", "PSW", "EPC", "Status",
    "Cause", "BadVAddr", "mepc", "mcause", "sepc", "scause", "stval",
    "mstatus", "sstatus", "pc",
})
#: RAM pages an interrupt entry writes (an exception frame on the stack)
ENTRY_PAGES = 2
#: log events (parts of their names) that write guest RAM without
#: counting an instruction: a block or network request completing
IO_EVENTS = ("ASYNC",)
#: RAM pages one completed request may write (a 64 KiB block read)
IO_PAGES = 16
#: pages listed in a report (all are counted)
PAGES_SHOWN = 8


class PointKind(StrEnum):
    """What one compared checkpoint showed."""

    EQUAL = "equal"
    #: differed, and a later checkpoint agreed again; the log has an
    #: interrupt or exception at this icount
    BOUNDARY = "boundary"
    #: differed, and a later checkpoint agreed again
    RECOVERED = "recovered"
    #: differed, and no later checkpoint agreed: part of a divergence
    DIVERGED = "diverged"


@dataclass
class StateDiff:
    """How a replay's state differs from the recording's at one icount."""

    #: register name -> [recorded value, replayed value]
    registers: dict[str, list[str]] = field(default_factory=dict)
    #: RAM pages (page numbers in the RAM block) whose contents differ
    pages: list[int] = field(default_factory=list)

    @property
    def equal(self) -> bool:
        return not self.registers and not self.pages


def diff_registers(recorded: dict[str, str], replayed: dict[str, str]
                   ) -> dict[str, list[str]]:
    """The registers whose values differ (the volatile ones left out)."""
    names = (recorded.keys() | replayed.keys()) - VOLATILE_REGISTERS
    return {name: [recorded.get(name, "-"), replayed.get(name, "-")]
            for name in sorted(names)
            if name.split("#")[0] not in VOLATILE_REGISTERS
            and recorded.get(name) != replayed.get(name)}


@dataclass
class ComparedPoint:
    """One checkpoint, both sides compared."""

    icount: int
    moment: str
    kind: PointKind
    diff: StateDiff = field(default_factory=StateDiff)
    #: the log's events at exactly this icount (names)
    events_here: list[str] = field(default_factory=list)
    #: a digest of the replay's state here (registers and RAM), to tell
    #: whether two replays agree with each other
    fingerprint: str = ""

    def summary(self) -> dict:
        """JSON-friendly, with the pages cut to :data:`PAGES_SHOWN`."""
        return {"icount": self.icount, "moment": self.moment,
                "kind": str(self.kind),
                "registers": self.diff.registers,
                "pages": self.diff.pages[:PAGES_SHOWN],
                "page_count": len(self.diff.pages),
                "events_here": self.events_here,
                "fingerprint": self.fingerprint}


def _entry_events(point: ComparedPoint) -> bool:
    """The log holds an interrupt or exception at the point's icount."""
    return any(kind in name for kind in ENTRY_EVENTS
               for name in point.events_here)


def _entry_only(point: ComparedPoint) -> bool:
    """A difference an interrupt entry at this icount can explain."""
    # an entry moves the program counter: a difference of RAM alone is
    # none
    return (_entry_events(point) and bool(point.diff.registers)
            and set(point.diff.registers) <= ENTRY_REGISTERS
            and len(point.diff.pages) <= ENTRY_PAGES)


def _io_only(point: ComparedPoint) -> bool:
    """A difference of RAM alone that an I/O completion at this icount
    can explain."""
    return (any(kind in name for kind in IO_EVENTS
                for name in point.events_here)
            and not point.diff.registers
            and 0 < len(point.diff.pages) <= IO_PAGES)


def classify(points: list[ComparedPoint]) -> list[ComparedPoint]:
    """Decide each point's kind, run by run, as the module says."""
    i = 0
    while i < len(points):
        if points[i].diff.equal:
            points[i].kind = PointKind.EQUAL
            i += 1
            continue
        end = i
        while end < len(points) and not points[end].diff.equal:
            end += 1
        run = points[i:end]
        recovered = end < len(points)
        if all(_entry_only(point) for point in run):
            kind = PointKind.BOUNDARY
        elif recovered and all(_entry_only(point) or _io_only(point)
                               for point in run):
            kind = PointKind.BOUNDARY
        elif recovered and len(run) == 1:
            kind = PointKind.RECOVERED
        else:
            kind = PointKind.DIVERGED
        for point in run:
            point.kind = kind
        i = end
    return points


@dataclass
class Location:
    """Where the replay first differed from its recording (or where the
    checkpoints put the first difference of a failed replay)."""

    #: the checkpoints pin an interval
    located: bool
    #: ``divergence`` (state differed and never recovered), ``failure``
    #: (states agreed up to where the replay failed), ``none`` (nothing
    #: differed), ``no-checkpoints``
    kind: str
    last_equal_icount: int | None = None
    first_different_icount: int | None = None
    recorded_icount: int | None = None
    #: the first different checkpoint's registers and pages
    registers: dict[str, list[str]] = field(default_factory=dict)
    pages: list[int] = field(default_factory=list)
    page_count: int = 0
    #: the log's events between the two icounts, in replay-dump form
    events: list[str] = field(default_factory=list)
    #: recorded console bytes written by the two icounts
    console_bytes: list[int | None] = field(default_factory=list)
    #: where the two phases' event streams part (QEMU 11.1+, asked for
    #: with an event trace), and that event's number in the log
    event_stream: str | None = None
    first_event: int | None = None
    #: how many checkpoints were compared, and the transient ones
    compared: int = 0
    transients: list[dict] = field(default_factory=list)
    points: list[dict] = field(default_factory=list)

    def share(self, icount: int | None) -> str:
        if icount is None or not self.recorded_icount:
            return "-"
        return f"{100.0 * icount / self.recorded_icount:.1f}%"

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> list[str]:
        """The location as report lines."""
        if self.kind == "no-checkpoints":
            return ["state checkpoints: none in this recording (recorded "
                    "with --checkpoints 0, or by an older avocado-rr): "
                    "only the stop position is known"]
        lines = [f"state checkpoints: {self.compared} compared, "
                 f"{len(self.transients)} transient"]
        if self.kind == "none":
            return lines + ["  every compared checkpoint agreed"] + (
                [f"  {self.event_stream}"] if self.event_stream else [])
        first = ("the replay's failure" if self.kind == "failure"
                 else f"icount {self.first_different_icount} "
                      f"({self.share(self.first_different_icount)})")
        last = ("the start" if self.last_equal_icount is None else
                f"icount {self.last_equal_icount} "
                f"({self.share(self.last_equal_icount)})")
        lines.append(f"  first difference between {last} (last equal "
                     f"checkpoint) and {first}")
        if self.kind == "failure" and self.first_different_icount:
            lines[-1] += f" at icount {self.first_different_icount}"
        for name, (rec, rep) in self.registers.items():
            lines.append(f"  register {name}: recorded {rec}, replayed {rep}")
        if self.page_count:
            shown = ", ".join(f"0x{page * 4096:x}" for page in self.pages)
            lines.append(f"  RAM: {self.page_count} page(s) differ; first "
                         f"at RAM offset {shown}")
        if any(b is not None for b in self.console_bytes):
            lines.append(f"  recorded console there: "
                         f"{' -> '.join(str(b) for b in self.console_bytes)}"
                         f" bytes")
        if self.events:
            lines.append("  log events between them:")
            lines += [f"    {line}" for line in self.events]
        if self.event_stream:
            lines.append(f"  {self.event_stream}")
        return lines


def locate(points: list[ComparedPoint], recorded_icount: int,
           failed_at: int | None = None) -> Location:
    """The location the classified ``points`` give.

    :param failed_at: the icount where the replay failed, when it did
        (the checkpoints after it were never reached)
    """
    location = Location(located=False, kind="none",
                        recorded_icount=recorded_icount,
                        compared=len(points),
                        points=[p.summary() for p in points])
    location.transients = [p.summary() for p in points
                           if p.kind in (PointKind.BOUNDARY,
                                         PointKind.RECOVERED)]
    diverged = [i for i, p in enumerate(points)
                if p.kind == PointKind.DIVERGED]
    if diverged:
        first = points[diverged[0]]
        before = [p for p in points[:diverged[0]]
                  if p.kind == PointKind.EQUAL]
        location.kind = "divergence"
        location.located = True
        location.first_different_icount = first.icount
        location.last_equal_icount = before[-1].icount if before else None
        location.registers = first.diff.registers
        location.pages = first.diff.pages[:PAGES_SHOWN]
        location.page_count = len(first.diff.pages)
    elif failed_at is not None:
        equal = [p for p in points if p.kind == PointKind.EQUAL]
        location.kind = "failure"
        location.located = True
        location.last_equal_icount = equal[-1].icount if equal else None
        location.first_different_icount = failed_at
    return location
