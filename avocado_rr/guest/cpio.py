"""Deterministic writer for cpio archives in the "newc" format.

The Linux kernel unpacks an initramfs from a (compressed) cpio archive in
the SVR4 "newc" format (magic ``070701``, see the kernel's
``Documentation/driver-api/early-userspace/buffer-format.rst``).  This
module writes such archives so that the same entries always give the same
bytes: entries are sorted by path (parents before children), every entry
has owner and group 0, one fixed mtime, and inode numbers that follow the
sorted order.
"""

from __future__ import annotations

import dataclasses
import io
import stat
from typing import BinaryIO, Iterable

from avocado_rr.errors import AvocadoRRError

MAGIC = b"070701"
TRAILER = "TRAILER!!!"
HEADER_SIZE = 110


class CpioError(AvocadoRRError, ValueError):
    """An entry cannot be stored in a newc archive."""


@dataclasses.dataclass(frozen=True)
class Entry:
    """One member of the archive.

    :param path: path inside the archive, relative (``"bin/busybox"``); a
                 leading ``/`` is dropped
    :param mode: full ``st_mode`` (file type bits and permissions)
    :param data: file contents, or the target of a symbolic link
    :param rdev: (major, minor) of a device node
    """

    path: str
    mode: int
    data: bytes = b""
    rdev: tuple[int, int] = (0, 0)

    @property
    def parts(self) -> tuple[str, ...]:
        """Path components, the sort key that puts parents first."""
        return tuple(self.path.split("/"))


def _clean_path(path: str) -> str:
    parts = [p for p in path.strip("/").split("/") if p not in ("", ".")]
    if not parts:
        raise CpioError(f"empty path {path!r}")
    if ".." in parts:
        raise CpioError(f"path {path!r} must not contain '..'")
    return "/".join(parts)


class Archive:
    """A set of entries written out as one deterministic newc archive.

    Parent directories are added automatically (mode 0755).  Adding the
    same path twice is an error rather than a silent overwrite.
    """

    def __init__(self, mtime: int = 0) -> None:
        if not 0 <= mtime <= 0xFFFFFFFF:
            raise CpioError(f"mtime {mtime} does not fit in 32 bits")
        self.mtime = mtime
        self._entries: dict[str, Entry] = {}

    def _add(self, entry: Entry) -> None:
        parts = entry.path.split("/")
        for depth in range(1, len(parts)):
            parent = "/".join(parts[:depth])
            existing = self._entries.get(parent)
            if existing is None:
                self._entries[parent] = Entry(parent, stat.S_IFDIR | 0o755)
            elif not stat.S_ISDIR(existing.mode):
                raise CpioError(f"{parent!r} is not a directory, cannot hold "
                                f"{entry.path!r}")
        existing = self._entries.get(entry.path)
        if existing is not None:
            # an implicitly created directory may be made explicit once
            if (stat.S_ISDIR(existing.mode) and stat.S_ISDIR(entry.mode)
                    and existing.mode == stat.S_IFDIR | 0o755):
                self._entries[entry.path] = entry
                return
            raise CpioError(f"duplicate path {entry.path!r}")
        self._entries[entry.path] = entry

    def add_directory(self, path: str, perm: int = 0o755) -> None:
        """Add a directory."""
        self._add(Entry(_clean_path(path), stat.S_IFDIR | (perm & 0o7777)))

    def add_file(self, path: str, data: bytes, perm: int = 0o644) -> None:
        """Add a regular file with the given contents."""
        self._add(Entry(_clean_path(path), stat.S_IFREG | (perm & 0o7777),
                        bytes(data)))

    def add_symlink(self, path: str, target: str) -> None:
        """Add a symbolic link pointing at ``target``."""
        if not target:
            raise CpioError(f"symlink {path!r} has an empty target")
        self._add(Entry(_clean_path(path), stat.S_IFLNK | 0o777,
                        target.encode()))

    def add_char_device(self, path: str, major: int, minor: int,
                        perm: int = 0o600) -> None:
        """Add a character device node, e.g. ``dev/console`` (5, 1)."""
        self._add(Entry(_clean_path(path), stat.S_IFCHR | (perm & 0o7777),
                        rdev=(major, minor)))

    def add_block_device(self, path: str, major: int, minor: int,
                         perm: int = 0o600) -> None:
        """Add a block device node."""
        self._add(Entry(_clean_path(path), stat.S_IFBLK | (perm & 0o7777),
                        rdev=(major, minor)))

    def entries(self) -> list[Entry]:
        """The entries in archive order (parents before children)."""
        return sorted(self._entries.values(), key=lambda e: e.parts)

    def write(self, fileobj: BinaryIO) -> int:
        """Write the archive to ``fileobj``; return the number of bytes."""
        written = 0
        for ino, entry in enumerate(self.entries(), start=1):
            nlink = 2 if stat.S_ISDIR(entry.mode) else 1
            written += _write_member(fileobj, entry.path, ino, entry.mode,
                                     nlink, self.mtime, entry.data,
                                     entry.rdev)
        written += _write_member(fileobj, TRAILER, 0, 0, 1, 0, b"", (0, 0))
        return written

    def to_bytes(self) -> bytes:
        """The archive as bytes."""
        buf = io.BytesIO()
        self.write(buf)
        return buf.getvalue()


def _pad(length: int) -> bytes:
    return b"\0" * (-length % 4)


def _write_member(fileobj: BinaryIO, name: str, ino: int, mode: int,
                  nlink: int, mtime: int, data: bytes,
                  rdev: tuple[int, int]) -> int:
    name_bytes = name.encode() + b"\0"
    fields = (ino, mode, 0, 0, nlink, mtime, len(data), 0, 0,
              rdev[0], rdev[1], len(name_bytes), 0)
    for value in fields:
        if not 0 <= value <= 0xFFFFFFFF:
            raise CpioError(f"{name!r}: field value {value} does not fit "
                            f"in a newc header")
    header = MAGIC + b"".join(b"%08X" % value for value in fields)
    chunks = [header, name_bytes, _pad(HEADER_SIZE + len(name_bytes)),
              data, _pad(len(data))]
    for chunk in chunks:
        fileobj.write(chunk)
    return sum(len(chunk) for chunk in chunks)


def write_archive(entries: Iterable[Entry], fileobj: BinaryIO,
                  mtime: int = 0) -> int:
    """Write ``entries`` as a deterministic newc archive to ``fileobj``."""
    archive = Archive(mtime)
    for entry in entries:
        archive._add(Entry(_clean_path(entry.path), entry.mode, entry.data,
                           entry.rdev))
    return archive.write(fileobj)
