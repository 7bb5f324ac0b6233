# Record/replay of firmware boots: machines Debian ships no kernel for.
#
# Each case boots no kernel: the machine runs the firmware image of the
# QEMU build under test (from its own data directories, -L help) to a
# banner or prompt on its serial console, and the pair is judged as the
# kernel cases are (console byte for byte, icount totals, state
# checkpoints). A build that lacks the image is an ERROR naming it.
# Each case inherits its test, test_record_replay, from ReplayFirmwareTest.

from avocado_rr.testing.firmware import ReplayFirmwareTest

#: OpenBIOS's last line after its boot-device search, just before its
#: "0 >" prompt (ppc and sparc alike)
OPENBIOS_NO_BOOT = "No valid state has been set by load or init-program"


class AlphaClipper(ReplayFirmwareTest):
    """
    :avocado: tags=arch:alpha,machine:clipper
    """
    firmware = "palcode-clipper"
    # the PALcode's PCI scan, its last line before it looks for a kernel
    console_pattern = "PCI: 00:07:0 class 0601 id 8086:0484"


class HppaB160l(ReplayFirmwareTest):
    """
    :avocado: tags=arch:hppa,machine:B160L
    """
    machine_aliases = ("hppa",)     # its name up to QEMU 8.1
    firmware = "hppa-firmware.img"
    # SeaBIOS-hppa's banner, machine summary and boot-device search, to
    # its halt; which powers the machine off: pause there instead, so the
    # recording is stopped where the test means
    console_pattern = "SeaBIOS wants SYSTEM HALT."
    extra_args = ("-action", "shutdown=pause")


class PpcG3beige(ReplayFirmwareTest):
    """
    :avocado: tags=arch:ppc,machine:g3beige
    """
    firmware = "openbios-ppc"
    console_pattern = OPENBIOS_NO_BOOT


class PpcMac99(ReplayFirmwareTest):
    """
    :avocado: tags=arch:ppc,machine:mac99
    """
    firmware = "openbios-ppc"
    console_pattern = OPENBIOS_NO_BOOT


class PpcPpce500(ReplayFirmwareTest):
    """
    :avocado: tags=arch:ppc,machine:ppce500
    """
    firmware = "u-boot.e500"
    # Debian's 7.2 ships it in u-boot-qemu, not in qemu-system-data
    firmware_asset = "u-boot-ppce500"
    # U-Boot's device probe, just before its autoboot countdown
    console_pattern = "Net:   No ethernet found."


class SparcSS5(ReplayFirmwareTest):
    """
    :avocado: tags=arch:sparc,machine:SS-5
    """
    firmware = "openbios-sparc32"
    memory = "256"                  # the SS-5's most
    console_pattern = OPENBIOS_NO_BOOT


class SparcSS10(ReplayFirmwareTest):
    """
    :avocado: tags=arch:sparc,machine:SS-10
    """
    firmware = "openbios-sparc32"
    console_pattern = OPENBIOS_NO_BOOT


class Sparc64Sun4u(ReplayFirmwareTest):
    """
    :avocado: tags=arch:sparc64,machine:sun4u
    """
    firmware = "openbios-sparc64"
    console_pattern = OPENBIOS_NO_BOOT
