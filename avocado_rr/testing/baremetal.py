"""Avocado test base for recording and replaying a bare-metal guest.

For a target with neither a Debian kernel nor firmware, the case boots a
small program of the suite's own (:mod:`avocado_rr.baremetal`),
assembled from ``guests/baremetal/<guest>.S`` into the test's output
directory when it runs, and judges the pair as a kernel boot is::

    class M68kMcf5208evb(ReplayBareMetalTest):
        \"\"\"
        :avocado: tags=arch:m68k,machine:mcf5208evb
        \"\"\"
        guest = "m68k-mcf5208evb"

The guest prints its timer ticks, the work done between them and an
accumulator of it, then :data:`avocado_rr.baremetal.DONE_LINE`, which
ends the recording: a replay that takes one interrupt elsewhere prints
other numbers.
"""

from __future__ import annotations

import dataclasses
import os

from avocado_rr import baremetal
from avocado_rr.pair import BootSpec
from avocado_rr.testing.kernel import KernelBoot


class ReplayBareMetalTest(KernelBoot):
    """Record a bare-metal guest to its last line, replay it, compare.

    :avocado: disable
    """

    __test__ = False

    #: the guest's name in :data:`avocado_rr.baremetal.GUESTS`
    guest: str | None = None
    console_pattern = baremetal.DONE_LINE

    def kernel_asset(self) -> str:
        """The guest, assembled now (``-kernel`` loads its ELF)."""
        if not self.guest:
            self.error(f"{type(self).__name__} names no guest")
        try:
            elf = baremetal.build(self.guest,
                                  os.path.join(self.outputdir, "guest"))
        except baremetal.BareMetalError as details:
            self.error(str(details))
        self.log.info("guest %s: %s", self.guest, elf)
        return os.fspath(elf)

    def kernel_command_line(self) -> str:
        return ""

    def boot_spec(self) -> BootSpec:
        """The case's machine, with the ``-cpu`` and arguments its guest
        needs (:class:`avocado_rr.baremetal.Guest`)."""
        spec = super().boot_spec()
        try:
            guest = baremetal.guest(self.guest)
        except baremetal.BareMetalError as details:
            self.error(str(details))
        return dataclasses.replace(
            spec, cpu=spec.cpu or guest.cpu,
            extra_args=list(guest.qemu_args) + spec.extra_args)

    def test_record_replay(self):
        """Record the guest, replay it, judge the pair."""
        self.run_record_replay()
