"""Reverse debugging over a replay, checked step by step against a
forward pass.

:func:`reverse_debug` drives one replay session of a recording made with
``rrsnapshot`` under gdb (:mod:`avocado_rr.gdb`), from a breakpoint well
into the kernel's boot:

1. the stub must offer ``ReverseStep+`` and ``ReverseContinue+``;
2. ``continue`` to the breakpoint, then a VM snapshot there (``savevm``),
   so that each reverse step replays a few instructions from it, not the
   whole boot from the recording's first snapshot;
3. **forward**: ``stepi`` ``steps`` times, keeping each step's icount
   (``query-replay``), PC and every register gdb knows, and a window of
   the stack's memory;
4. **reverse**: ``reverse-stepi`` back to the breakpoint: each stop
   must be an icount before the last and show the PC and registers the
   forward pass saw at that icount;
5. **forward again**: ``stepi`` over them once more, equal to the first
   pass;
6. **reverse-continue to a breakpoint** at a PC the forward pass went
   through: it must stop where the forward pass last saw that PC;
7. **reverse-continue to a watchpoint** on the stack word the forward
   pass saw written last: it must stop right after the writing
   instruction, at the icount, PC and registers the forward pass had
   there;
8. **a kernel variable** (``jiffies``, where the kernel's symbol table
   has it): ``continue`` with a write watchpoint on it to its next two
   writes (timer ticks, millions of instructions apart), a few stepi
   on, then ``reverse-continue`` twice: each must land on the state the
   forward pass saw after the second write, then after the first.

The result lists every difference (empty: the replay ran backwards as
it ran forwards).
"""

from __future__ import annotations

import logging
import socket
import time
from dataclasses import dataclass, field

from qemu.qmp import ExecuteError

from avocado_rr import targets
from avocado_rr.engine import RecordReplay
from avocado_rr.gdb import Gdb, GdbError
from avocado_rr.machine import MachineError
from avocado_rr.pair import Recording
from avocado_rr.session import ReplaySession

LOG = logging.getLogger("avocado_rr.reverse")

#: features a gdbstub must offer for reverse execution
REVERSE_FEATURES = ("ReverseStep+", "ReverseContinue+")
#: the snapshot taken at the breakpoint
SNAPSHOT = "avocado-rr-reverse"
#: bytes of stack below the breakpoint's stack pointer watched for writes
STACK_WINDOW = 128
#: forward writes of the watched kernel variable, and stepi after them
VARIABLE_WRITES = 2
VARIABLE_STEPS = 10


@dataclass
class State:
    """The replay's state at one stop."""

    icount: int
    pc: int
    registers: dict[str, str]
    stack: bytes = b""

    def differences(self, other: "State") -> list[str]:
        out = []
        if self.icount != other.icount:
            out.append(f"icount {other.icount}, expected {self.icount}")
        if self.pc != other.pc:
            out.append(f"pc {other.pc:#x}, expected {self.pc:#x}")
        wrong = sorted(name for name in self.registers.keys() |
                       other.registers.keys()
                       if self.registers.get(name) !=
                       other.registers.get(name))
        if wrong:
            out.append("registers " + ", ".join(
                f"{name} {other.registers.get(name)} (expected "
                f"{self.registers.get(name)})" for name in wrong[:4]) +
                (f" and {len(wrong) - 4} more" if len(wrong) > 4 else ""))
        return out


@dataclass
class ReverseReport:
    """What a reverse-debugging run found."""

    problems: list[str] = field(default_factory=list)
    #: where it stopped, how long it took: for the log and the summary
    facts: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.problems


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ReverseDebugging:
    """One reverse-debugging run over a replay of ``recording``, with gdb
    set to its architecture and byte order (the target table)."""

    def __init__(self, engine: RecordReplay, recording: Recording,
                 log: logging.Logger | None = None,
                 timeout: float = 120.0):
        self.engine = engine
        self.recording = recording
        self.target = targets.target(recording.spec.arch)
        self.log = log or LOG
        self.timeout = timeout
        self.report = ReverseReport()
        self.session: ReplaySession | None = None
        self.gdb: Gdb | None = None

    # -- the run --------------------------------------------------------
    def run(self, breakpoint: int, steps: int = 1000,
            variable: tuple[str, int] | None = None) -> ReverseReport:
        """The whole scenario (the module's steps 1-8).

        :param variable: the name and address of the kernel variable of
            step 8 (None: the step is left out, and the facts say so)
        """
        if not self.recording.spec.rrsnapshot:
            raise ValueError(f"{self.recording.rrfile} was recorded without "
                             f"rrsnapshot: no reverse execution")
        port = free_port()
        # a thousand steps ask QEMU their icount a thousand times: not
        # every QMP message into the test's log
        qmp_log = logging.getLogger("qemu.qmp")
        qmp_level = qmp_log.level
        qmp_log.setLevel(logging.INFO)
        try:
            self.session = self.engine.session(
                self.recording, "reverse",
                extra_args=["-gdb", f"tcp:127.0.0.1:{port}"])
            self.gdb = Gdb(self.target.need("gdb_arch"), self.timeout,
                           self.log, endian=self.target.endian,
                           settings=self.target.gdb_settings)
            self.gdb.connect(port)
            self._check_features()
            self.log.info("reverse debugging: continue to %#x", breakpoint)
            self._to_breakpoint(breakpoint)
            self.log.info("reverse debugging: %d stepi", steps)
            forward = self._forward(steps)
            self.log.info("reverse debugging: reverse-stepi back to "
                          "icount %d", forward[0].icount)
            self._reverse(forward)
            self.log.info("reverse debugging: %d stepi again", steps)
            again = self._forward(steps, compare=forward)
            self.log.info("reverse debugging: reverse-continue to a "
                          "breakpoint, then to a watchpoint")
            self._reverse_to_breakpoint(again)
            self._reverse_to_watchpoint(again)
            if variable is None:
                self.report.facts["variable_watchpoint"] = "none given"
            else:
                self.log.info("reverse debugging: the last writes of %s",
                              variable[0])
                self._reverse_to_variable_writes(*variable)
        except (GdbError, MachineError, TimeoutError) as details:
            self.report.problems.append(f"{type(details).__name__}: "
                                        f"{details}{self._whereabouts()}")
        finally:
            qmp_log.setLevel(qmp_level)
            if self.gdb is not None:
                self.gdb.close()
            self.engine.close(grace=0)
        return self.report

    def _whereabouts(self) -> str:
        """Where the replay is when a command failed: its icount, twice a
        second apart (a stall shows as the same number), and its run
        state; empty when QEMU cannot say."""
        try:
            first = self.icount()
            time.sleep(1.0)
            second = self.icount()
            status = self.session.machine.cmd("query-status")["status"]
        except (MachineError, ExecuteError, TimeoutError, AttributeError,
                KeyError):
            return ""
        progress = "not advancing" if first == second else \
            f"advancing to {second}"
        return f" (the replay at icount {first}, {progress}, {status})"

    def icount(self) -> int:
        return self.session.machine.cmd("query-replay")["icount"]

    def state(self, stack_at: int | None = None) -> State:
        state = State(self.icount(), self.gdb.pc(), self.gdb.registers())
        if stack_at is not None:
            state.stack = self.gdb.read_memory(stack_at, STACK_WINDOW)
        return state

    def _check_features(self) -> None:
        features = self.gdb.remote_features()
        missing = [f for f in REVERSE_FEATURES if f not in features]
        self.report.facts["features"] = sorted(
            f for f in features if f.startswith("Reverse"))
        if missing:
            self.report.problems.append(f"the gdbstub does not offer "
                                        f"{', '.join(missing)}")

    def _to_breakpoint(self, address: int) -> None:
        number = self.gdb.break_at(address)
        start = time.monotonic()
        self.gdb.cont()
        self.gdb.delete(number)
        pc, icount = self.gdb.pc(), self.icount()
        self.report.facts.update(breakpoint=f"{address:#x}",
                                 breakpoint_icount=icount,
                                 to_breakpoint_s=time.monotonic() - start)
        if pc != address:
            raise GdbError(f"continue to the breakpoint at {address:#x} "
                           f"stopped at {pc:#x} (icount {icount})")
        # each reverse step replays from the nearest snapshot: make one
        # here, or every step replays the boot from its start
        answer = self.session.machine.hmp(f"savevm {SNAPSHOT}").strip()
        if answer:
            raise GdbError(f"savevm at the breakpoint: {answer}")
        self._stack_base = None

    def _stack_window(self) -> int:
        """The stack window's address (below the breakpoint's SP)."""
        if self._stack_base is None:
            self._stack_base = self.gdb.address("$sp") - STACK_WINDOW
        return self._stack_base

    def _forward(self, steps: int, compare: list[State] | None = None
                 ) -> list[State]:
        """``steps`` stepi; the states before and after each."""
        window = self._stack_window()
        start = time.monotonic()
        states = [self.state(window)]
        for number in range(steps):
            self.gdb.stepi()
            states.append(self.state(window))
            if compare is not None:
                self._expect(compare[number + 1], states[-1],
                             f"forward again, step {number + 1}")
        label = "forward_again" if compare else "forward"
        self.report.facts[f"{label}_s"] = time.monotonic() - start
        self.report.facts[f"{label}_icounts"] = [states[0].icount,
                                                 states[-1].icount]
        advanced = [b.icount - a.icount for a, b in zip(states, states[1:])]
        if compare is None and any(step != 1 for step in advanced):
            odd = [(n, step) for n, step in enumerate(advanced, 1)
                   if step != 1]
            self.report.facts["steps_not_one_instruction"] = odd[:10]
        return states

    def _reverse(self, forward: list[State]) -> None:
        """reverse-stepi back to the breakpoint: every stop must be an
        icount before the last, one instruction back, and show the PC and
        registers the forward pass saw at that icount.  Where one forward
        stepi ran several instructions (an exception or interrupt entry
        taken with the step), reverse-stepi stops in between, at icounts
        the forward pass has nothing to compare with: counted, not
        judged."""
        by_icount: dict[int, list[State]] = {}
        for state in forward:
            by_icount.setdefault(state.icount, []).append(state)
        spanned = {icount for a, b in zip(forward, forward[1:])
                   for icount in range(a.icount + 1, b.icount)}
        start = time.monotonic()
        here = forward[-1]
        steps = unchecked = 0
        while here.icount > forward[0].icount and \
                steps < 2 * len(forward):
            self.gdb.reverse_stepi()
            steps += 1
            there = self.state()
            where = (f"reverse-stepi {steps} from icount {here.icount} "
                     f"(pc {here.pc:#x})")
            if there.icount >= here.icount and there.pc == here.pc:
                self.report.problems.append(f"{where}: did not move back "
                                            f"(icount {there.icount})")
                break
            if there.icount > here.icount:
                self._problem(f"{where}: went forward, to icount "
                              f"{there.icount}")
            elif there.icount < here.icount - 1:
                back = here.icount - there.icount
                self._problem(f"{where}: went back {back} instructions, to "
                              f"icount {there.icount}")
            seen = by_icount.get(there.icount, [])
            if seen and not any(not s.differences(there) for s in seen):
                before = by_icount.get(there.icount - 1)
                if before:
                    where += f", after {self._instruction(before[-1].pc)}"
                self._expect(seen[-1], there, where)
            elif not seen and there.icount in spanned:
                unchecked += 1
            elif not seen:
                self._problem(f"{where}: stopped at icount {there.icount},"
                              f" where the forward pass never was")
            here = there
        self.report.facts.update(reverse_s=time.monotonic() - start,
                                 reverse_steps=steps,
                                 reverse_stops_inside_a_forward_step=unchecked)

    def _problem(self, text: str) -> None:
        if len(self.report.problems) < 20:
            self.report.problems.append(text)

    def _expect(self, expected: State, got: State, where: str) -> None:
        differences = expected.differences(got)
        if differences:
            self._problem(f"{where}: at icount {got.icount}, pc "
                          f"{got.pc:#x}: " + "; ".join(differences))

    def _reverse_to_breakpoint(self, forward: list[State]) -> None:
        """Break at the PC of the window's middle; reverse-continue from
        its end must stop where the forward pass last ran that PC."""
        address = forward[len(forward) // 2].pc
        last = max(n for n, state in enumerate(forward[:-1])
                   if state.pc == address)
        number = self.gdb.break_at(address)
        start = time.monotonic()
        self.gdb.reverse_cont()
        self.gdb.delete(number)
        self.report.facts["reverse_continue_breakpoint_s"] = \
            time.monotonic() - start
        self._expect(forward[last], self.state(),
                     f"reverse-continue to the breakpoint at {address:#x}")
        # forward to the window's end again, step by step
        for number in range(last + 1, len(forward)):
            self.gdb.stepi()
        self._expect(forward[-1], self.state(),
                     "stepping from the breakpoint to the window's end")

    def _reverse_to_watchpoint(self, forward: list[State]) -> None:
        """At the window's end, watch the stack word (the target's pointer
        size) the forward pass saw change last; reverse-continue must stop
        right after a write to it, at a state the forward pass had: the
        write that changed it, or a later one that stored the same value
        (QEMU reports write accesses, gdb's reverse watch does not ask
        whether the value changed)."""
        word = self.gdb.evaluate("sizeof(void *)")
        changes = [(n, offset) for n in range(1, len(forward))
                   for offset in range(0, STACK_WINDOW, word)
                   if forward[n].stack[offset:offset + word] !=
                   forward[n - 1].stack[offset:offset + word]]
        if not changes:
            self.report.facts["watchpoint"] = "no stack word written"
            return
        step, offset = changes[-1]
        address = self._stack_window() + offset
        watch = self.gdb.watch(address, word)
        start = time.monotonic()
        self.gdb.reverse_cont()
        self.gdb.delete(watch)
        got = self.state()
        self.report.facts.update(
            watchpoint=f"{address:#x}", watch_write_step=step,
            reverse_continue_watchpoint_s=time.monotonic() - start,
            watchpoint_stop_icount=got.icount)
        value = forward[step].stack[offset:offset + word]
        # forward[n] is the state after forward step n's instruction
        same_value_after = [n for n in range(step, len(forward))
                            if forward[n].stack[offset:offset + word] ==
                            value and not forward[n].differences(got)]
        if same_value_after and same_value_after[0] != step:
            n = same_value_after[0]
            self.report.facts["watchpoint_stop"] = (
                f"step {n}: a later write of the same value, by "
                f"{self._instruction(forward[n - 1].pc)}")
        elif not same_value_after:
            self._expect(State(forward[step].icount, forward[step].pc,
                               forward[step].registers), got,
                         f"reverse-continue to the watchpoint on "
                         f"{address:#x} (changed by forward step {step}, "
                         f"{self._instruction(forward[step - 1].pc)})")

    def _reverse_to_variable_writes(self, name: str, address: int) -> None:
        """Step 8: forward to the variable's next writes, then back."""
        word = self.gdb.evaluate("sizeof(void *)")
        watch = self.gdb.watch(address, word)
        start = time.monotonic()
        writes = []
        for _ in range(VARIABLE_WRITES):
            self.gdb.cont()
            writes.append(self.state())
        self.gdb.delete(watch)
        for _ in range(VARIABLE_STEPS):
            self.gdb.stepi()
        forward_s = time.monotonic() - start
        watch = self.gdb.watch(address, word)
        start = time.monotonic()
        for number in range(len(writes), 0, -1):
            self.gdb.reverse_cont()
            self._expect(writes[number - 1], self.state(),
                         f"reverse-continue to write {number} of {name} "
                         f"({address:#x})")
        self.gdb.delete(watch)
        self.report.facts.update(
            variable_watchpoint=f"{name} at {address:#x}",
            variable_write_icounts=[write.icount for write in writes],
            variable_forward_s=forward_s,
            variable_reverse_s=time.monotonic() - start)

    def _instruction(self, pc: int) -> str:
        """The instruction at ``pc``, disassembled by gdb."""
        try:
            text = self.gdb.cli(f"x/i {pc:#x}").strip()
        except GdbError as details:
            return f"{pc:#x} (not disassembled: {details})"
        return " ".join(text.replace("=>", "").split())
