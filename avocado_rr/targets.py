"""The target table: one row per architecture, every per-arch fact.

A row (:class:`Target`) says, for one Avocado ``arch:`` name, which QEMU
system emulator runs it and which Debian package ships that emulator,
the Debian architecture of its guests, the kernel asset the suite boots,
the guest's serial console, the modules the avocado-rr initramfs loads
and gdb's name for the architecture.  Adding an architecture is adding a
row here (plus its test class and its entries in ``configs/assets.yaml``).

A column that does not apply to an architecture (no Debian port, no
kernel in the catalogue, no Linux cases) is None: :meth:`Target.need`
then raises :class:`MissingTargetData` naming the architecture and the
column, and :func:`target` raises :class:`UnknownTarget` for a name that
has no row.  Neither is ever a bare ``KeyError``.

The module also holds :class:`QemuBinary`, what a found emulator says
about itself, so that data modules (:mod:`avocado_rr.pair`) need not
import the code that finds it (:mod:`avocado_rr.qemu_binary`).  It
imports nothing but the standard library and :mod:`avocado_rr.errors`.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field, fields
from typing import Any, Sequence

from avocado_rr.errors import AvocadoRRError

#: where the table is, for error messages
TABLE = "avocado_rr/targets.py"


class TargetError(AvocadoRRError, LookupError):
    """A per-architecture fact the target table does not have."""


class UnknownTarget(TargetError):
    """An architecture with no row in the target table."""


class MissingTargetData(TargetError):
    """An architecture whose row leaves a needed column empty."""


def _column(what: str) -> Any:
    """An optional column; ``what`` names it in error messages."""
    return field(default=None, metadata={"what": what})


@dataclass(frozen=True)
class Target:
    """One architecture: a row of the target table."""

    #: the Avocado ``arch:`` tag value (QEMU's name for the target)
    arch: str
    #: the emulator is ``qemu-system-<qemu_target>``
    qemu_target: str
    #: gdb-multiarch's ``set architecture`` value (None: Debian 12's
    #: gdb-multiarch does not know the architecture)
    gdb_arch: str | None
    #: the Debian package that ships the emulator
    emulator_package: str | None = _column("Debian emulator package")
    #: the Debian architecture of the guest's packages
    debian_arch: str | None = _column("Debian architecture")
    #: the kernel of ``configs/assets.yaml`` the suite boots
    kernel_asset: str | None = _column("kernel asset")
    #: the guest's serial console device (``console=`` on the command line)
    console: str | None = _column("guest console device")
    #: modules the avocado-rr initramfs loads (built-in ones are skipped)
    guest_modules: tuple[str, ...] | None = _column("guest module list")
    #: modules it loads when the kernel has them
    optional_modules: tuple[str, ...] = ()
    #: other names of the same architecture (e.g. a host's ``uname -m``)
    aliases: tuple[str, ...] = ()
    #: the width vmlinux-to-elf reads the kernel's symbol table with: its
    #: word size, but 32 on s390x, whose table holds 32-bit offsets
    bits: int = 64
    #: added to every address of that table: s390x's relocatable kernel
    #: leaves kallsyms_relative_base 0 in the image (it is filled in at
    #: boot), so its offsets count from the no-KASLR load address
    kallsyms_base: int = 0
    #: the guest's byte order, as gdb's ``set endian`` takes it (gdb
    #: does not take it from ``set architecture``: without it, a
    #: big-endian s390x or a little-endian ppc64le reads every register
    #: byte-swapped)
    endian: str = "little"
    #: bytes from a function's symbol to where the kernel enters it:
    #: ppc64le (ELFv2) calls a function's local entry point, past the two
    #: instructions that set up its TOC pointer, so a breakpoint at the
    #: symbol itself is never hit
    entry_offset: int = 0
    #: more gdb ``set`` commands the architecture needs without an ELF
    #: file: mips64's default ABI is o32, whose 32-bit addresses never
    #: match a 64-bit kernel's PC (a breakpoint is never hit)
    gdb_settings: tuple[str, ...] = ()

    @property
    def binary_name(self) -> str:
        """``qemu-system-<target>``."""
        return f"qemu-system-{self.qemu_target}"

    def need(self, column: str) -> Any:
        """The value of ``column``, which must not be empty for this arch.

        :raises MissingTargetData: naming the arch, the column, the table
            and the architectures that have the column.
        """
        value = getattr(self, column)
        if value is None:
            having = [row.arch for row in TARGETS
                      if getattr(row, column) is not None]
            raise MissingTargetData(
                f"no {_what(column)} for architecture {self.arch!r}: its "
                f"row in {TABLE} leaves {column} empty (set for: "
                f"{', '.join(sorted(having))})")
        return value


def _what(column: str) -> str:
    for column_field in fields(Target):
        if column_field.name == column:
            return column_field.metadata.get("what", column)
    raise AttributeError(f"{TABLE} has no column {column!r}")


#: virtio disk and network, a cdrom (virtio-scsi anywhere, IDE on pc) and
#: the ISO 9660 file system
_PC_MODULES = ("virtio_pci", "virtio_blk", "virtio_net", "virtio_scsi",
               "ata_piix", "sr_mod", "isofs")

#: The target table, columns in the order of :class:`Target`: arch, QEMU
#: target, gdb arch, emulator package, Debian arch, kernel asset, console,
#: guest modules, optional modules (AHCI, q35's IDE, is missing from
#: Debian's cloud-amd64 kernel, where q35 takes a virtio-scsi cdrom).
TARGETS: tuple[Target, ...] = (
    Target("x86_64", "x86_64", "i386:x86-64", "qemu-system-x86", "amd64",
           "kernel-x86_64", "ttyS0", _PC_MODULES, ("ahci",)),
    Target("i386", "i386", "i386", "qemu-system-x86", "i386",
           "kernel-i386", "ttyS0", _PC_MODULES, ("ahci",), bits=32),
    Target("aarch64", "aarch64", "aarch64", "qemu-system-arm", "arm64",
           "kernel-aarch64", "ttyAMA0",
           ("virtio_pci", "virtio_mmio", "virtio_blk", "virtio_net",
            "virtio_scsi", "sr_mod", "isofs")),
    Target("arm", "arm", "arm", "qemu-system-arm", "armhf",
           "kernel-armhf", "ttyAMA0", bits=32),
    Target("ppc64", "ppc64", "powerpc:common64", "qemu-system-ppc",
           "ppc64el", "kernel-ppc64el", "hvc0", aliases=("ppc64le",),
           entry_offset=8),
    Target("ppc", "ppc", "powerpc:common", "qemu-system-ppc", bits=32,
           endian="big"),
    Target("s390x", "s390x", "s390:64-bit", "qemu-system-s390x", "s390x",
           "kernel-s390x", "sclp0", endian="big", bits=32,
           kallsyms_base=0x100000),
    Target("mips", "mips", "mips", "qemu-system-mips", bits=32,
           endian="big"),
    Target("mipsel", "mipsel", "mips", "qemu-system-mips", "mipsel",
           "kernel-mipsel", "ttyS0", bits=32),
    Target("mips64", "mips64", "mips:isa64", "qemu-system-mips",
           endian="big", gdb_settings=("set mips abi n64",)),
    Target("mips64el", "mips64el", "mips:isa64", "qemu-system-mips",
           "mips64el", "kernel-mips64el", "ttyS0",
           gdb_settings=("set mips abi n64",)),
    Target("riscv64", "riscv64", "riscv:rv64", "qemu-system-misc",
           "riscv64", "kernel-riscv64", "ttyS0"),
    Target("riscv32", "riscv32", "riscv:rv32", "qemu-system-misc",
           bits=32),
    Target("alpha", "alpha", "alpha", "qemu-system-misc"),
    Target("hppa", "hppa", "hppa1.0", "qemu-system-misc", bits=32,
           endian="big"),
    Target("m68k", "m68k", "m68k", "qemu-system-misc", bits=32,
           endian="big"),
    Target("or1k", "or1k", None, "qemu-system-misc", bits=32, endian="big"),
    Target("sh4", "sh4", "sh4", "qemu-system-misc", bits=32),
    Target("xtensa", "xtensa", None, "qemu-system-misc", bits=32),
    Target("sparc", "sparc", "sparc", "qemu-system-sparc", bits=32,
           endian="big"),
    Target("sparc64", "sparc64", "sparc:v9", "qemu-system-sparc",
           endian="big"),
)

_BY_NAME: dict[str, Target] = {
    name: row for row in TARGETS for name in (row.arch, *row.aliases)}


def find(arch: str | None) -> Target | None:
    """The row of ``arch`` (or of an alias of it); None if it has none."""
    return _BY_NAME.get(arch) if arch else None


def target(arch: str) -> Target:
    """The row of ``arch`` (or of an alias of it).

    :raises UnknownTarget: naming the arch, the table and the known ones.
    """
    row = find(arch)
    if row is None:
        raise UnknownTarget(f"unknown architecture {arch!r}: {TABLE} has no "
                            f"row for it (known: {', '.join(known())})")
    return row


def need(arch: str, column: str) -> Any:
    """``column`` of the row of ``arch``, which must have one.

    :raises UnknownTarget: for an arch with no row, naming the column too
    :raises MissingTargetData: for a row that leaves ``column`` empty
    """
    row = find(arch)
    if row is None:
        raise UnknownTarget(f"no {_what(column)} for unknown architecture "
                            f"{arch!r}: {TABLE} has no row for it (known: "
                            f"{', '.join(known())})")
    return row.need(column)


def known() -> list[str]:
    """The architectures of the table, sorted (aliases excepted)."""
    return sorted(row.arch for row in TARGETS)


def names_of_debian_arch(debian_arch: str) -> set[str]:
    """The arch names (aliases included) whose guests are ``debian_arch``."""
    return {name for name, row in _BY_NAME.items()
            if row.debian_arch == debian_arch}


def booted() -> list[Target]:
    """The rows the suite boots (a kernel, firmware or a bare-metal
    guest): those with an emulator package."""
    return [row for row in TARGETS if row.emulator_package is not None]


@dataclass(frozen=True)
class QemuBinary:
    """A QEMU system emulator and what it says about itself."""

    arch: str
    path: str
    #: first line of ``qemu-system-<arch> --version``
    version_line: str
    #: (major, minor, micro)
    version: tuple[int, int, int]

    @property
    def version_string(self) -> str:
        """``major.minor.micro``."""
        return ".".join(str(part) for part in self.version)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the emulators of the arches the suite boots, or the Debian
    packages that ship them, space-separated (for the Makefile)."""
    parser = argparse.ArgumentParser(prog="python3 -m avocado_rr.targets",
                                     description=main.__doc__)
    parser.add_argument("what", choices=("binaries", "emulator-packages"))
    args = parser.parse_args(argv)
    if args.what == "binaries":
        words = [row.binary_name for row in booted()]
    else:
        words = sorted({row.need("emulator_package") for row in booted()})
    print(" ".join(words))
    return 0


if __name__ == "__main__":
    sys.exit(main())
