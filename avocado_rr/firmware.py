"""Firmware images a QEMU build ships in its own data directories.

A firmware boot (OpenBIOS, SeaBIOS-hppa, U-Boot, the Alpha PALcode) uses
the image of the QEMU under test: each of Debian's builds carries its own
(``qemu-system-data``), and QEMU says where it looks with ``-L help``.
Naming the image and resolving it here, rather than leaving it to the
machine's default, makes a build that lacks it an error that says so
before any QEMU starts, and puts the image's path and hash in the
artifacts.
"""

from __future__ import annotations

import os

from avocado_rr.errors import AvocadoRRError
from avocado_rr.qemu_binary import QemuNotFound, ask


class FirmwareNotFound(AvocadoRRError):
    """The QEMU under test ships no such firmware image."""


def data_dirs(qemu_path: str) -> list[str]:
    """The directories ``qemu_path`` searches for firmware (``-L help``),
    first searched first."""
    try:
        listed = ask(qemu_path, "-L", "help")
    except QemuNotFound as details:
        raise FirmwareNotFound(str(details)) from details
    return [os.path.normpath(line.strip())
            for line in listed.splitlines() if line.strip()]


def find_firmware(qemu_path: str, name: str) -> str:
    """The path of firmware image ``name`` as ``qemu_path`` would load it
    with ``-bios name``: the first of its data directories that has it.

    :raises FirmwareNotFound: naming the image, the QEMU and where it
        looked.
    """
    if os.path.isabs(name):
        if os.path.isfile(name):
            return name
        raise FirmwareNotFound(f"firmware {name}: no such file")
    dirs = data_dirs(qemu_path)
    for directory in dirs:
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            return path
    raise FirmwareNotFound(
        f"firmware {name!r}: {qemu_path} does not ship it (looked in "
        f"{', '.join(dirs) or 'no data directory'}); this QEMU build "
        f"cannot boot the case")
