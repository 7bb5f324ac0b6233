"""Symbols of a Debian kernel, read from the kernel image itself.

Debian's ``linux-image`` packages ship a stub ``System.map`` ("The real
System.map is in the linux-image-<version>-dbg package", a package of
hundreds of MB), but their kernels carry their own symbol table
(``CONFIG_KALLSYMS``).  :func:`kernel_symbols` unpacks the image (x86's
bzImage here: its payload, found by the boot protocol's header, in
Debian's LZ4 legacy framing, or gzip, xz, zstd; the others by
``vmlinux-to-elf``) and reads that table with ``vmlinux-to-elf``'s
kallsyms finder.  The result is cached beside the
kernel in the asset cache, keyed by the kernel's sha256.

The addresses are the kernel's link-time ones: a guest booted with
``nokaslr`` runs there.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
import struct
from pathlib import Path

from avocado_rr.download import atomic_write, sha256_file
from avocado_rr.errors import AvocadoRRError

#: the kernel command line option that keeps the kernel at its link-time
#: addresses (no address space layout randomisation)
NOKASLR = "nokaslr"
_LZ4_LEGACY = 0x184C2102
_XZ_MAGIC = b"\xfd7zXZ\x00"
#: symbols kept in the cache (text and data; not the thousands of others)
_KEPT_TYPES = set("TtDdBbRr")


class SymbolError(AvocadoRRError):
    """A kernel's symbols cannot be read."""


def _bzimage_payload(image: bytes) -> bytes | None:
    """The compressed kernel of an x86 bzImage (boot protocol 2.08+)."""
    if image[0x202:0x206] != b"HdrS":
        return None
    setup_sects = image[0x1f1] or 4
    offset, length = struct.unpack_from("<II", image, 0x248)
    start = (setup_sects + 1) * 512 + offset
    return image[start:start + length]


def _lz4_legacy(data: bytes) -> bytes:
    import lz4.block
    out = bytearray()
    position = 4
    while position + 4 <= len(data):
        size, = struct.unpack_from("<I", data, position)
        position += 4
        if size == _LZ4_LEGACY:
            continue
        if size == 0 or position + size > len(data):
            break
        out += lz4.block.decompress(data[position:position + size],
                                    uncompressed_size=8 << 20)
        position += size
    return bytes(out)


def _decompress(data: bytes) -> bytes:
    if struct.unpack_from("<I", data)[0] == _LZ4_LEGACY:
        return _lz4_legacy(data)
    if data[:2] == b"\x1f\x8b":
        return gzip.decompress(data)
    if data[:6] == _XZ_MAGIC or data[:3] == b"\x5d\x00\x00":
        return lzma.LZMADecompressor().decompress(data)
    if data[:4] == b"\x28\xb5\x2f\xfd":
        import zstandard
        return zstandard.ZstdDecompressor().stream_reader(
            io.BytesIO(data)).read()
    if data[:3] == b"BZh":
        return bz2.decompress(data)
    raise SymbolError(f"unknown compression (magic {data[:4].hex()})")


def kernel_image(path: str | os.PathLike) -> bytes:
    """The kernel as the kallsyms finder reads it: an x86 bzImage's
    payload unpacked here, any other image unpacked by vmlinux-to-elf
    where it knows how (arm's zImage, mips' vmlinuz), else as it is."""
    image = Path(path).read_bytes()
    payload = _bzimage_payload(image)
    if payload is not None:
        return _decompress(payload)
    from vmlinux_to_elf.core.auto_unpack import VmlinuzDecompressor
    return VmlinuzDecompressor(image).decompressed or \
        _embedded_xz(image) or image


def _embedded_xz(image: bytes) -> bytes | None:
    """The first xz stream in ``image`` that unpacks (s390x's bzImage
    holds a broken-looking magic before its payload's, where
    vmlinux-to-elf stops)."""
    start = image.find(_XZ_MAGIC)
    while start >= 0:
        try:
            return lzma.LZMADecompressor().decompress(image[start:])
        except lzma.LZMAError:
            start = image.find(_XZ_MAGIC, start + 1)
    return None


def read_symbols(path: str | os.PathLike, bit_size: int,
                 base: int = 0) -> dict[str, int]:
    """Name -> address of the kernel's text and data symbols; ``base`` is
    added to every address (:attr:`avocado_rr.targets.Target.
    kallsyms_base`)."""
    from vmlinux_to_elf.core.kallsyms import KallsymsFinder
    try:
        finder = KallsymsFinder(kernel_image(path), bit_size)
    except (ValueError, AssertionError, IndexError, OSError) as details:
        raise SymbolError(f"{path}: no symbol table found: {details}") \
            from details
    except Exception as details:  # pylint: disable=broad-except
        # the finder raises its own kinds (ArchitectureGuessError...)
        raise SymbolError(f"{path}: no symbol table found: "
                          f"{type(details).__name__}: {details}") from details
    return {symbol.name: symbol.virtual_address + base
            for symbol in finder.symbols
            if str(symbol.symbol_type.value) in _KEPT_TYPES}


def kernel_symbols(path: str | os.PathLike, bit_size: int,
                   cache: str | os.PathLike | None = None,
                   base: int = 0) -> dict[str, int]:
    """:func:`read_symbols`, cached as ``<cache>/<sha256>-<bits>-<base>
    .json``."""
    if cache is None:
        from avocado_rr.assets import cache_dir
        cache = cache_dir() / "ksyms"
    cached = Path(cache) / f"{sha256_file(path)}-{bit_size}-{base:x}.json"
    try:
        return json.loads(cached.read_text())
    except (OSError, ValueError):
        pass
    symbols = read_symbols(path, bit_size, base)
    cached.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(cached, json.dumps(symbols).encode())
    return symbols


def address(symbols: dict[str, int], name: str) -> int:
    """The address of ``name``; a clear error when the kernel lacks it."""
    try:
        return symbols[name]
    except KeyError:
        raise SymbolError(f"the kernel has no symbol {name!r} in its "
                          f"table ({len(symbols)} symbols)") from None
