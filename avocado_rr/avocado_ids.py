"""Avocado test ids, parsed in one place.

An Avocado job names each test ``<uid>-<file>:<Class>.<method>[;<variant>]``,
e.g. ``03-tests/avocado/replay_kernel.py:X86_64Pc.test_record_replay;
run-icount_shift-shift-3-e6b2``.  The replay summary, the QEMU version
matrix and the soak benchmark each show a part of it.  This module
imports nothing from Avocado.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AvocadoTestId:
    """The parts of an Avocado test id."""

    #: the job's index of the test ("03"); None when the id has no file
    #: part or no numeric index
    uid: str | None
    #: the test file; None when the id has no ``file:`` part
    file: str | None
    #: ``Class.method`` (what follows the file, without the variant)
    name: str
    #: the variant id; None without one
    variant: str | None = None

    @property
    def case(self) -> str:
        """``Class.method;variant``: the test without job index and file."""
        return self.name if self.variant is None \
            else f"{self.name};{self.variant}"

    @property
    def short(self) -> str:
        """``uid-Class.method;variant``: the id without the file."""
        return self.case if self.uid is None else f"{self.uid}-{self.case}"


def parse_test_id(text: str) -> AvocadoTestId:
    """The parts of Avocado test id ``text`` (any text is one: without
    ``file:`` it is all name and variant)."""
    head, sep, rest = str(text).partition(":")
    uid = file = None
    if sep:
        index, _, path = head.partition("-")
        if index.isdigit():
            uid, file = index, path
        else:
            file = head
    else:
        rest = str(text)
    name, semicolon, variant = rest.partition(";")
    return AvocadoTestId(uid, file, name, variant if semicolon else None)


__all__ = ["AvocadoTestId", "parse_test_id"]
