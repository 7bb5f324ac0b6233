"""The gdb command line 'avocado-rr debug' prints."""

from types import SimpleNamespace

from avocado_rr.debugcli import gdb_command


def _recording(arch):
    return SimpleNamespace(spec=SimpleNamespace(arch=arch))


def test_the_command_sets_architecture_byte_order_then_attaches():
    argv = gdb_command(_recording("s390x"), 1234)
    assert argv == ["gdb-multiarch",
                    "-ex", "set architecture s390:64-bit",
                    "-ex", "set endian big",
                    "-ex", "target remote 127.0.0.1:1234"]


def test_a_64_bit_mips_kernel_gets_the_n64_abi_before_attaching():
    """Without it gdb takes o32: 32-bit addresses, no breakpoint hit."""
    argv = gdb_command(_recording("mips64el"), 1234)
    assert argv.index("set mips abi n64") < \
        argv.index("target remote 127.0.0.1:1234")
    assert "set mips abi n64" not in gdb_command(_recording("mipsel"), 1)
