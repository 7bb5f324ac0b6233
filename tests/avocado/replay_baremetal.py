# Record/replay of small bare-metal guests: targets Debian ships neither a
# kernel nor a firmware for.
#
# Each guest is assembled from guests/baremetal/<guest>.S with Debian's
# cross binutils when the test runs (avocado_rr.baremetal), takes timer
# interrupts, prints the work done between them and ends with a "done"
# line; the pair is judged as the kernel cases are (console byte for
# byte, icount totals, state checkpoints). guests/baremetal/README.md has
# the design all guests share.
# Each case inherits its test, test_record_replay, from ReplayBareMetalTest.

from avocado_rr.testing.baremetal import ReplayBareMetalTest


class M68kMcf5208evb(ReplayBareMetalTest):
    """
    :avocado: tags=arch:m68k,machine:mcf5208evb
    """
    guest = "m68k-mcf5208evb"


class MipsMalta(ReplayBareMetalTest):
    """
    :avocado: tags=arch:mips,machine:malta
    """
    guest = "mips-malta"


class Or1kSim(ReplayBareMetalTest):
    """
    :avocado: tags=arch:or1k,machine:or1k-sim
    """
    guest = "or1k-or1k-sim"


class Sh4R2d(ReplayBareMetalTest):
    """
    :avocado: tags=arch:sh4,machine:r2d
    """
    guest = "sh4-r2d"


class XtensaLx60(ReplayBareMetalTest):
    """
    :avocado: tags=arch:xtensa,machine:lx60,cpu:lx106
    """
    guest = "xtensa-lx60"
