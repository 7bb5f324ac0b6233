"""Avocado test base for recording and replaying a machine's firmware.

A firmware case boots no kernel: the machine runs the firmware image of
the QEMU build under test (OpenBIOS, SeaBIOS-hppa, U-Boot, the Alpha
PALcode; a pinned Debian package's copy where the build lacks it) to a
banner or prompt on its console, and the pair is judged as a kernel
boot is (console byte for byte, icount totals, state checkpoints)::

    class PpcG3beige(ReplayFirmwareTest):
        \"\"\"
        :avocado: tags=arch:ppc,machine:g3beige
        \"\"\"
        firmware = "openbios-ppc"
        console_pattern = "No valid state has been set by load"

A build that lacks the image (and a case with no asset of it) is an
ERROR that names it, before any QEMU starts.
"""

from __future__ import annotations

from avocado_rr.firmware import FirmwareNotFound, find_firmware
from avocado_rr.testing.kernel import KernelBoot


class ReplayFirmwareTest(KernelBoot):
    """Record a firmware boot up to a console line, replay it, compare.

    :avocado: disable
    """

    __test__ = False

    #: the firmware image, a file name in the QEMU build's data
    #: directories (``-L help``) or an absolute path; given as ``-bios``
    firmware: str | None = None
    #: a catalogue asset of the same firmware from a Debian package, for
    #: a build that does not ship ``firmware`` itself (Debian's 7.2 moved
    #: U-Boot to u-boot-qemu)
    firmware_asset: str | None = None

    def kernel_asset(self) -> None:
        return None

    def kernel_command_line(self) -> str:
        return ""

    def firmware_path(self) -> str | None:
        """``firmware`` as the QEMU under test finds it."""
        if not self.firmware:
            return None
        try:
            path = find_firmware(self.qemu.path, self.firmware)
        except FirmwareNotFound as details:
            if not self.firmware_asset:
                self.error(str(details))
            self.log.info("%s; booting asset %s instead", details,
                          self.firmware_asset)
            return self.fetch(self.firmware_asset)
        self.log.info("firmware %s: %s", self.firmware, path)
        return path

    def test_record_replay(self):
        """Record the firmware boot, replay it, judge the pair."""
        self.run_record_replay()
