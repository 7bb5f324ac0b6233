"""Known failures: a QEMU bug that makes a test fail in a known way."""

from __future__ import annotations

from dataclasses import dataclass

from avocado_rr.targets import QemuBinary
from avocado_rr.verdict import Verdict


@dataclass(frozen=True)
class KnownFailure:
    """A QEMU bug that makes a test fail in a known way.

    The test still runs.  When the QEMU under test is one of ``versions``
    (``(major, minor)`` pairs) and the failure matches (same verdict and
    ``match`` found in the reason), the test ends in WARN, reporting the
    failure; if it fails differently, the test FAILs so that a changed QEMU
    is noticed.  If it passes, the test FAILs too (the bug may be fixed),
    unless the bug is ``intermittent``: then a pass is a PASS.
    """

    versions: tuple[tuple[int, int], ...]
    verdict: str
    match: str
    reason: str
    intermittent: bool = False

    def applies_to(self, qemu: QemuBinary) -> bool:
        return tuple(qemu.version[:2]) in self.versions

    def matches(self, verdict: Verdict) -> bool:
        text = verdict.reason + (verdict.replay_error.message
                                 if verdict.replay_error else "")
        return verdict.verdict == self.verdict and self.match in text
