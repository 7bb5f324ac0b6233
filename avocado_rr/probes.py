"""Looks into a paused QEMU, and the checkpoints that keep what they saw.

A :class:`Probe` reads something of a *stopped* machine over QMP and
returns it as JSON-friendly data.  The engine pauses a recording at
chosen moments and at its stop point and runs its probes there
(:class:`RecordProbes`); each pause is a :class:`Checkpoint`, kept with
the recording (its sidecar), so that a replay paused at the same icount
(:meth:`avocado_rr.session.ReplaySession.probe`) can be compared with it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Protocol

if TYPE_CHECKING:       # the data here is read without QMP (sidecars)
    from avocado_rr.machine import QemuMachine

#: ``NAME=hex`` of HMP ``info registers`` on every target, with the hex
#: words that follow (an x86 segment's selector, base, limit and flags;
#: aarch64's ``Q00=hi:lo``)
_HEX = r"[0-9a-fA-F]+(?::[0-9a-fA-F]+)*\b"
_REGISTER = re.compile(rf"\b([A-Za-z][A-Za-z0-9_]*)\s*=\s*"
                       rf"({_HEX}(?:\s+{_HEX}(?![=\w]))*)")


class Probe(Protocol):
    """Something read off a paused machine."""

    #: the key of its result in a checkpoint's ``values``
    name: str

    def take(self, machine: QemuMachine) -> Any:
        """Read the stopped ``machine``; JSON-friendly data."""


class IcountProbe:
    """The instruction count (``query-replay``)."""

    name = "icount"

    def take(self, machine: QemuMachine) -> int:
        return machine.cmd("query-replay")["icount"]


class RegistersProbe:
    """HMP ``info registers`` of the CPU the monitor points at (the
    suite's machines have one), as QEMU prints it: both sides of a
    comparison are parsed by the same :func:`parse_registers`, whatever
    avocado-rr version took them."""

    name = "registers"

    def take(self, machine: QemuMachine) -> str:
        return machine.hmp("info registers")


def parse_registers(text: str) -> dict[str, str]:
    """``{name: hex text}`` of HMP ``info registers`` output; a name that
    comes twice (x86 prints ``DPL=`` per segment) keeps its first value
    under its name and the others as ``NAME#2``, ``NAME#3``..."""
    registers: dict[str, str] = {}
    for name, value in _REGISTER.findall(text):
        key, n = name, 1
        while key in registers:
            n += 1
            key = f"{name}#{n}"
        registers[key] = " ".join(value.split()).lower()
    return registers


@dataclass
class Checkpoint:
    """What the probes saw at one pause of a recording (or a replay)."""

    #: the instruction count of the pause
    icount: int
    #: when it was taken: ``"t=2.0s"`` into a recording, or ``"stop"``
    moment: str
    #: probe name -> what it returned
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class RecordProbes:
    """When a recording pauses for its probes, and which probes run.

    :param next_after: the first pause after so many seconds of
        recording (None: no more pauses before the stop point)
    :param at_stop: pause at the stop point too (the recording is then
        stopped anyway)
    """

    probes: list[Probe]
    next_after: Callable[[float], float | None] = lambda elapsed: None
    at_stop: bool = True

    @classmethod
    def every(cls, probes: list[Probe], seconds: float,
              at_stop: bool = True) -> "RecordProbes":
        """Pause every ``seconds`` of recording."""
        return cls(probes, lambda elapsed: (elapsed // seconds + 1) *
                   seconds, at_stop)


def take(machine: QemuMachine, probes: list[Probe], icount: int,
         moment: str) -> Checkpoint:
    """Run ``probes`` on the stopped ``machine``: one checkpoint."""
    return Checkpoint(icount, moment,
                      {probe.name: probe.take(machine) for probe in probes})
