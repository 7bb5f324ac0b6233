"""Small bare-metal guests, assembled with Debian's cross binutils.

Where Debian ships neither a kernel nor firmware for a QEMU target, the
suite boots a program of its own: a few hundred instructions, kept as
source in ``guests/baremetal/`` and assembled when the test runs (the
cross assembler and linker take milliseconds).  Every guest follows one
design (``guests/baremetal/README.md``): it takes periodic timer
interrupts, counts its main loop's iterations between them, mixes them
into an accumulator and prints both on its UART every 8 ticks, so a
replay that delivers one interrupt elsewhere prints other numbers; after
256 ticks it prints :data:`DONE_LINE`.  Only the lines that touch the
machine's UART and timer differ between targets.

This module imports only the standard library (and the project's
dependency-free errors): the Makefile reads the guests' Debian packages
with ``python3 -E -S -m avocado_rr.baremetal packages`` before any venv
exists.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from avocado_rr.errors import AvocadoRRError

#: the sources of the guests
GUESTS_DIR = Path(__file__).resolve().parent.parent / "guests" / "baremetal"
#: the line every guest prints first, followed by its machine's name
START_LINE = "avocado-rr bare-metal guest: "
#: the line every guest prints last
DONE_LINE = "avocado-rr bare-metal guest: done"


class BareMetalError(AvocadoRRError):
    """A guest that cannot be built: unknown, no source, no binutils, or
    its assembler or linker failed."""


@dataclass(frozen=True)
class Guest:
    """One bare-metal guest and how to build it."""

    #: the guest's name, ``<arch>-<machine>``: its source is NAME.S
    name: str
    #: the Avocado ``arch:`` tag
    arch: str
    machine: str
    #: the cross binutils' prefix, e.g. ``m68k-linux-gnu-``
    prefix: str
    #: the Debian package with ``<prefix>as`` and ``<prefix>ld``
    package: str
    asflags: tuple[str, ...] = ()
    ldflags: tuple[str, ...] = ()
    #: what ``-kernel`` takes: "elf", or "binary" (a raw image, ld's
    #: ``--oformat binary``) for a machine that loads no ELF
    image: str = "elf"
    #: ``-cpu``, when the machine's default is not the guest's
    cpu: str | None = None
    #: QEMU arguments the guest needs before the console's ``-serial``
    qemu_args: tuple[str, ...] = ()

    @property
    def source(self) -> Path:
        return GUESTS_DIR / f"{self.name}.S"

    @property
    def tools(self) -> tuple[str, str]:
        """The assembler and linker commands."""
        return f"{self.prefix}as", f"{self.prefix}ld"


GUESTS: dict[str, Guest] = {guest.name: guest for guest in (
    # kseg0 from physical 0 (the interrupt vector at 0x180), below 0x2000
    # where -kernel puts its boot-argument table; the assembler's
    # .MIPS.abiflags moved into the same segment
    Guest("mips-malta", "mips", "malta", "mips-linux-gnu-",
          "binutils-mips-linux-gnu",
          asflags=("-EB", "-march=24kf", "-mabi=32", "-non_shared"),
          ldflags=("-EB", "-N", "-Ttext=0x80000000", "-Tdata=0x80001000",
                   "--section-start=.MIPS.abiflags=0x80001800",
                   "-e", "_start")),
    # RAM from 0x40000000, the vector table first (VBR); -N: one segment
    # there, not a page-aligned one below RAM
    Guest("m68k-mcf5208evb", "m68k", "mcf5208evb", "m68k-linux-gnu-",
          "binutils-m68k-linux-gnu", asflags=("-mcpu=5208",),
          ldflags=("-N", "--no-warn-rwx-segments", "-Ttext=0x40000000",
                   "-e", "_start")),
    # r2d loads -kernel raw at 0x0c800000 and starts at 0xac800000 (P2)
    Guest("sh4-r2d", "sh4", "r2d", "sh4-linux-gnu-",
          "binutils-sh4-linux-gnu",
          ldflags=("-Ttext=0xac800000", "-e", "_start"), image="binary",
          # the SCIF, r2d's console, is its second serial port
          qemu_args=("-serial", "null")),
    # QEMU's lx106 core (-cpu lx106) is the one these binutils are
    # configured for; a jump of its own at the reset vector (0x50000000),
    # literals beside their code so the vectors stay at 0x60000000
    Guest("xtensa-lx60", "xtensa", "lx60", "xtensa-lx106-elf-",
          "binutils-xtensa-lx106", asflags=("--text-section-literals",),
          ldflags=("-N", "--no-warn-rwx-segments", "-Ttext=0x60000000",
                   "--section-start=.reset.text=0x50000000",
                   "-e", "_reset"), cpu="lx106"),
    # vectors from 0 (reset 0x100, tick 0x500): text at the reset vector;
    # data on another 8 KiB page, so its stores never retranslate code
    Guest("or1k-or1k-sim", "or1k", "or1k-sim", "or1k-elf-",
          "binutils-or1k-elf",
          ldflags=("-Ttext=0x100", "-Tdata=0x4000", "-e", "_start")),
)}


def guest(name: str) -> Guest:
    """The guest called ``name``.

    :raises BareMetalError: naming the known guests.
    """
    try:
        return GUESTS[name]
    except KeyError:
        raise BareMetalError(f"no bare-metal guest {name!r} (known: "
                             f"{', '.join(sorted(GUESTS))})") from None


def _run(argv: list[str], what: str) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True,
                          check=False, timeout=120)
    if proc.returncode != 0:
        raise BareMetalError(f"{what} failed (exit {proc.returncode}): "
                             f"{' '.join(argv)}\n{proc.stderr.strip()}")


def build(name: str, outdir: str | os.PathLike) -> Path:
    """Assemble and link guest ``name`` into ``outdir``; the path of what
    ``-kernel`` takes (its ELF, or a raw image beside the ELF, which stays
    for objdump and gdb).

    The files are named after the source's hash, so a changed source is
    never confused with an earlier build.

    :raises BareMetalError: with the command, and what failed or is
        missing (the Debian package that brings the tools).
    """
    spec = guest(name)
    try:
        source = spec.source.read_bytes()
    except OSError as details:
        raise BareMetalError(f"guest {name}: cannot read its source "
                             f"{spec.source}: {details}") from details
    for tool in spec.tools:
        if not shutil.which(tool):
            raise BareMetalError(
                f"guest {name}: {tool} is not installed (Debian package "
                f"{spec.package}; 'make qemu' installs it when root)")
    digest = hashlib.sha256(source).hexdigest()[:12]
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    obj = outdir / f"{name}-{digest}.o"
    assembler, linker = spec.tools
    _run([assembler, *spec.asflags, "-o", str(obj), str(spec.source)],
         f"guest {name}: assembling")
    elf = outdir / f"{name}-{digest}.elf"
    _run([linker, *spec.ldflags, "-o", str(elf), str(obj)],
         f"guest {name}: linking")
    if spec.image == "elf":
        return elf
    image = outdir / f"{name}-{digest}.bin"
    _run([linker, *spec.ldflags, "--oformat", "binary", "-o", str(image),
          str(obj)], f"guest {name}: linking a raw image")
    return image


def main(argv: list[str] | None = None) -> int:
    """``packages``: the guests' Debian packages; ``tools``: the commands
    they need (for the Makefile)."""
    parser = argparse.ArgumentParser(prog="python -m avocado_rr.baremetal")
    parser.add_argument("what", choices=("packages", "tools"))
    args = parser.parse_args(argv)
    if args.what == "packages":
        words = sorted({spec.package for spec in GUESTS.values()})
    else:
        words = sorted({tool for spec in GUESTS.values()
                        for tool in spec.tools})
    print(" ".join(words))
    return 0


if __name__ == "__main__":
    sys.exit(main())
