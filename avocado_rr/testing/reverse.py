"""Reverse debugging over a replay, as an Avocado test.

A :class:`ReverseDebugTest` records a kernel boot with a snapshot image
(``rrsnapshot``) and ``nokaslr`` (so the kernel runs at the addresses of
its own symbol table, :mod:`avocado_rr.ksyms`), replays and judges it as
every kernel case does, then drives the replay under gdb-multiarch from
a breakpoint well into the boot (``kernel_init`` by default):
:class:`avocado_rr.reverse.ReverseDebugging` does ``steps`` stepi, as
many reverse-stepi, the same stepi again, a reverse-continue to a
breakpoint and one to a watchpoint, each stop checked against the
forward pass.  What it found joins the verdict as the ``reverse
debugging`` check; a failed one makes the verdict ``diverged``::

    class Aarch64Virt(ReverseDebugTest):
        \"\"\"
        :avocado: tags=arch:aarch64,machine:virt,cpu:cortex-a57
        \"\"\"
        shift = 5
"""

from __future__ import annotations

from dataclasses import replace

from avocado_rr import ksyms, targets
from avocado_rr.gdb import GdbError, find_gdb
from avocado_rr.reverse import ReverseDebugging, ReverseReport
from avocado_rr.testing.kernel import KernelBoot
from avocado_rr.verdict import Check, Verdict, VerdictKind


class ReverseDebugTest(KernelBoot):
    """Record a kernel boot, replay it, then debug the replay backwards.

    :avocado: disable
    """

    __test__ = False
    timeout = 900
    #: -icount rrsnapshot: reverse execution starts from snapshots
    rrsnapshot = "init"
    #: the kernel function to break at, well into the boot
    breakpoint_symbol = "kernel_init"
    #: the kernel variable whose last writes reverse-continue must find
    #: (where the kernel's symbol table has data symbols)
    watch_symbol = "jiffies"
    #: stepi, then reverse-stepi, over this many instructions
    steps = 1000
    #: the reverse cases judge gdb, not the state checkpoints
    checkpoints = 0.0
    #: an initcall's line: kernel_init runs before it, on every arch
    #: (ppc64 pseries powers off at the root-mount panic)
    console_pattern = "evm: HMAC attrs"

    def kernel_command_line(self) -> str:
        """The arch's console, and the kernel at its link-time addresses."""
        return f"{super().kernel_command_line()} {ksyms.NOKASLR}"

    def test_reverse_debug(self):
        """Record, replay, judge; then stepi, reverse-stepi, reverse-
        continue to a breakpoint and to a watchpoint, all checked."""
        try:
            find_gdb()
        except GdbError as details:
            self.error(str(details))
        row = targets.target(self.arch)
        kernel = self.fetch(self.kernel_asset())
        try:
            symbols = ksyms.kernel_symbols(kernel, row.bits,
                                           base=row.kallsyms_base)
            address = ksyms.address(symbols, self.param(
                "breakpoint_symbol")) + row.entry_offset
        except ksyms.SymbolError as details:
            self.error(f"no breakpoint in the kernel: {details}")
        variable = None
        watch_symbol = self.param("watch_symbol")
        if watch_symbol in symbols:
            variable = (watch_symbol, ksyms.address(symbols, watch_symbol))
        else:
            self.log.info("the kernel's symbol table has no %s (no data "
                          "symbols): no kernel-variable watchpoint",
                          watch_symbol)
        del symbols     # not into the log of a failing test
        self.log.info("breakpoint: %s at %#x", self.breakpoint_symbol,
                      address)
        verdict = self.record_and_replay()
        if verdict.passed and self.rr.recording is not None:
            report = ReverseDebugging(
                self.rr, self.rr.recording,
                log=self.log).run(address, self.param("steps", int),
                                  variable)
            for name, value in report.facts.items():
                self.log.info("reverse debugging: %s: %s", name, value)
            verdict = with_reverse(verdict, report)
            self.rr.amend(verdict)
        self.conclude(verdict)


def with_reverse(verdict: Verdict, report: ReverseReport) -> Verdict:
    """``verdict`` with the ``reverse debugging`` check; diverged when it
    failed."""
    facts = report.facts
    detail = (f"{facts.get('forward_icounts')} stepped forward and back, "
              f"breakpoint at {facts.get('breakpoint')} (icount "
              f"{facts.get('breakpoint_icount')}), watchpoint "
              f"{facts.get('watchpoint')}, kernel variable "
              f"{facts.get('variable_watchpoint')} (writes at "
              f"{facts.get('variable_write_icounts')})")
    if not report.passed:
        detail = "; ".join(report.problems[:5]) + (
            f" (and {len(report.problems) - 5} more)"
            if len(report.problems) > 5 else "")
    check = Check("reverse debugging", report.passed, detail)
    verdict = replace(verdict, checks=verdict.checks + [check])
    if report.passed:
        return verdict
    return replace(verdict, verdict=VerdictKind.DIVERGED,
                   reason=f"reverse debugging check failed: {detail}")
