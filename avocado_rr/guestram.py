"""Guest RAM in a shared-memory file, read in place: page digests.

To compare the guest's memory between a recording and its replay, each
QEMU keeps its RAM in a file of its own on ``/dev/shm``
(``memory-backend-file,share=on``; the guest sees the same machine).
While the machine is paused, :func:`page_digests` reads that file where
it lies: only the pages the guest ever touched hold data (the rest are
holes that ``SEEK_DATA`` skips), and each is summed with CRC-32 (about
2 GB/s here): an x86 kernel boot's ~110 MB take ~60 ms, where a
``pmemsave`` of 512 MB and a Python hash took ~0.9 s for 256 MB.

:class:`GuestRam` owns one such file: it creates it, unlinks its path at
once and keeps it open; QEMU opens it through this process's descriptor
(``mem-path=/proc/<pid>/fd/<n>``). The memory goes away with the last of
QEMU and this process, however either ends (a Ctrl-C or a kill before
QEMU is even up included), and nothing is ever left in ``/dev/shm``.
"""

from __future__ import annotations

import mmap
import os
import re
import tempfile
import zlib
from array import array
from dataclasses import dataclass

PAGE = 4096
#: the memory backend's QOM id on the command line
BACKEND_ID = "rr-ram"
#: where the RAM files go (a tmpfs: the memory is the file)
SHM_DIR = "/dev/shm"
_SIZE = re.compile(r"^(\d+)([KMGT]?)B?$", re.I)


def ram_bytes(memory: str) -> int:
    """Bytes of QEMU's ``-m`` value (``512``, ``512M``, ``2G``...)."""
    match = _SIZE.match(memory.strip())
    if not match:
        raise ValueError(f"cannot read the RAM size {memory!r}")
    number, unit = int(match[1]), (match[2] or "M").upper()
    return number << {"K": 10, "M": 20, "G": 30, "T": 40}[unit]


def ram_block_args(memory: str) -> list[str]:
    """The guest RAM of a recording made with a :class:`GuestRam`, in
    plain memory: the RAM block keeps its name (``rr-ram``), which a
    snapshot (``rrsnapshot``) needs to load, and no file is made."""
    return ["-object", f"memory-backend-ram,id={BACKEND_ID},"
            f"size={ram_bytes(memory)}",
            "-machine", f"memory-backend={BACKEND_ID}"]


def uses_ram_file(argv: list[str]) -> bool:
    """Whether a command line (a recording's) had its RAM in a file."""
    return f"memory-backend={BACKEND_ID}" in argv


@dataclass
class PageDigests:
    """CRC-32 of every page of guest RAM that holds data (a page never
    touched, or all zero, is left out: it reads as zeros on both sides)."""

    #: guest RAM page numbers (offset // 4096 in the RAM block), sorted
    pages: array
    #: the CRC-32 of each of them
    crcs: array

    @property
    def digest(self) -> str:
        """One digest of the whole RAM, as hex."""
        return f"{zlib.crc32(self.crcs.tobytes(), zlib.crc32(self.pages.tobytes())):08x}"

    def differing(self, other: "PageDigests") -> list[int]:
        """The page numbers whose contents differ between the two."""
        mine = dict(zip(self.pages, self.crcs))
        theirs = dict(zip(other.pages, other.crcs))
        return sorted(page for page in mine.keys() | theirs.keys()
                      if mine.get(page) != theirs.get(page))

    def to_bytes(self) -> bytes:
        return (array("I", [len(self.pages)]).tobytes() +
                self.pages.tobytes() + self.crcs.tobytes())

    @classmethod
    def from_bytes(cls, data: bytes) -> "PageDigests":
        count = array("I", data[:4])[0]
        pages, crcs = array("I"), array("I")
        pages.frombytes(data[4:4 + 4 * count])
        crcs.frombytes(data[4 + 4 * count:4 + 8 * count])
        return cls(pages, crcs)


_ZERO_PAGE = bytes(PAGE)


def page_digests(fd: int) -> PageDigests:
    """Digests of the pages of the RAM file open as ``fd`` (read in place)."""
    size = os.fstat(fd).st_size
    pages, crcs = array("I"), array("I")
    if size == 0:
        return PageDigests(pages, crcs)
    with mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ) as ram:
        view = memoryview(ram)
        try:
            position = 0
            while position < size:
                try:
                    start = os.lseek(fd, position, os.SEEK_DATA)
                except OSError:         # ENXIO: no data after position
                    break
                end = min(os.lseek(fd, start, os.SEEK_HOLE), size)
                for offset in range(start - start % PAGE, end, PAGE):
                    # a zero page compares ~10x faster than it sums: a
                    # file QEMU read whole (a snapshot) holds many
                    if view[offset:offset + PAGE] == _ZERO_PAGE:
                        continue
                    pages.append(offset // PAGE)
                    crcs.append(zlib.crc32(view[offset:offset + PAGE]))
                position = end
        finally:
            view.release()
    return PageDigests(pages, crcs)


class GuestRam:
    """One QEMU's guest RAM file, from before its launch to its close.

    The file has no name from the start: the command line
    (:meth:`qemu_args`) names it by this process's descriptor, so it is
    only valid while this object is open, in this process.

    :param memory: the machine's ``-m`` value
    """

    def __init__(self, memory: str, name: str = "ram"):
        self.size = ram_bytes(memory)
        self._fd: int | None = None
        self._fd, path = tempfile.mkstemp(prefix=f"avocado-rr-{name}-",
                                          dir=SHM_DIR)
        os.unlink(path)
        try:
            os.ftruncate(self._fd, self.size)   # holes: no memory used yet
        except OSError:
            self.close()
            raise

    @property
    def path(self) -> str:
        """The path QEMU opens: this process's descriptor of the file."""
        if self._fd is None:
            raise ValueError("the guest RAM file is closed")
        return f"/proc/{os.getpid()}/fd/{self._fd}"

    def qemu_args(self) -> list[str]:
        """The command line that puts the guest's RAM in this file."""
        return ["-object", f"memory-backend-file,id={BACKEND_ID},"
                f"size={self.size},mem-path={self.path},share=on",
                "-machine", f"memory-backend={BACKEND_ID}"]

    def digests(self) -> PageDigests:
        """The page digests of the (paused) guest's RAM."""
        if self._fd is None:
            raise ValueError("the guest RAM file is closed")
        return page_digests(self._fd)

    def close(self) -> None:
        """Let the file go (QEMU keeps its mapping until it exits)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
