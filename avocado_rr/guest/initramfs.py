"""Build a reproducible busybox initramfs for a Debian kernel.

Inputs are plain paths, so the builder does not care how the packages were
fetched:

* the ``busybox`` binary of Debian's ``busybox-static`` for the guest
  architecture (``bin/busybox`` in the extracted package);
* the extracted tree of the kernel package (``linux-image-*``), holding
  ``boot/vmlinuz-*`` and ``lib/modules/<release>/``;
* the guest ``/init`` (``init.sh`` shipped beside this module).

Debian 12's kernel packages carry no ``modules.dep`` (``depmod`` runs when
the package is installed), so module dependencies are read the way
``depmod`` reads them: from the ``depends=`` field of each module's
``.modinfo`` ELF section.  The result is a gzip'ed cpio newc archive with
fixed mtimes and owners; it is cached under a hash of its inputs.
"""

from __future__ import annotations

import gzip
import hashlib
import lzma
import os
import struct
from pathlib import Path
from typing import Iterable, Sequence

from avocado_rr import targets
from avocado_rr.download import atomic_write
from avocado_rr.errors import AvocadoRRError
from avocado_rr.guest.cpio import Archive

#: bump when the layout of the image changes, so cached images are rebuilt
FORMAT_VERSION = 1

INIT_SCRIPT = Path(__file__).with_name("init.sh")

_MODULE_SUFFIXES = (".ko", ".ko.xz")


class InitramfsError(AvocadoRRError):
    """The inputs cannot make an initramfs (missing file, bad module)."""


def module_name(path: str | Path) -> str:
    """Canonical module name of a ``.ko`` path (``-`` becomes ``_``)."""
    name = Path(path).name
    for suffix in _MODULE_SUFFIXES:
        if name.endswith(suffix):
            name = name[:-len(suffix)]
            break
    return name.replace("-", "_")


def read_modinfo(data: bytes) -> dict[str, list[str]]:
    """Parse the ``.modinfo`` section of a kernel module (ELF32/64, LE/BE)."""
    if data[:4] != b"\x7fELF":
        raise InitramfsError("not an ELF file")
    elf_class, byte_order = data[4], data[5]
    endian = {1: "<", 2: ">"}.get(byte_order)
    if endian is None or elf_class not in (1, 2):
        raise InitramfsError(f"unknown ELF class/byte order "
                             f"{elf_class}/{byte_order}")
    if elf_class == 1:
        (shoff,) = struct.unpack_from(endian + "I", data, 0x20)
        shentsize, shnum, shstrndx = struct.unpack_from(endian + "HHH",
                                                        data, 0x2E)
        sh_format, off_index = endian + "IIIIII", (4, 5)
    else:
        (shoff,) = struct.unpack_from(endian + "Q", data, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from(endian + "HHH",
                                                        data, 0x3A)
        sh_format, off_index = endian + "IIQQQQ", (4, 5)
    sections = []
    for index in range(shnum):
        fields = struct.unpack_from(sh_format, data, shoff + index * shentsize)
        sections.append((fields[0], fields[off_index[0]],
                         fields[off_index[1]]))
    _, str_off, str_size = sections[shstrndx]
    names = data[str_off:str_off + str_size]
    for name_off, offset, size in sections:
        name = names[name_off:names.index(b"\0", name_off)]
        if name == b".modinfo":
            info: dict[str, list[str]] = {}
            for item in data[offset:offset + size].split(b"\0"):
                key, sep, value = item.decode("utf-8", "replace").partition(
                    "=")
                if sep:
                    info.setdefault(key, []).append(value)
            return info
    raise InitramfsError("no .modinfo section")


def _read_module(path: Path) -> bytes:
    data = path.read_bytes()
    if path.name.endswith(".xz"):
        data = lzma.decompress(data)
    return data


class ModuleTree:
    """The modules of one kernel release in an extracted kernel package."""

    def __init__(self, kernel_root: str | Path) -> None:
        self.kernel_root = Path(kernel_root)
        self.release = kernel_release(self.kernel_root)
        self.directory = self.kernel_root / "lib/modules" / self.release
        self.modules: dict[str, Path] = {}
        for dirpath, _, filenames in os.walk(self.directory):
            for filename in filenames:
                if filename.endswith(_MODULE_SUFFIXES):
                    self.modules[module_name(filename)] = Path(dirpath,
                                                               filename)
        self.builtin: set[str] = set()
        builtin = self.directory / "modules.builtin"
        if builtin.exists():
            self.builtin = {module_name(line) for line in
                            builtin.read_text().split() if line}
        self._depends: dict[str, list[str]] = {}

    def depends(self, name: str) -> list[str]:
        """Direct dependencies of module ``name``."""
        if name not in self._depends:
            info = read_modinfo(_read_module(self.modules[name]))
            deps = ",".join(info.get("depends", []))
            self._depends[name] = [module_name(d) for d in deps.split(",")
                                   if d]
        return self._depends[name]

    def resolve(self, names: Iterable[str],
                optional: Iterable[str] = ()) -> list[Path]:
        """Module files for ``names`` and their dependencies, load order.

        Built-in modules are skipped; an unknown module is an error,
        except for the ``optional`` ones, which are left out when this
        kernel has them neither as module nor built in.
        """
        order: list[str] = []
        visiting: set[str] = set()

        def visit(name: str, wanted_by: str | None) -> None:
            if name in order or name in self.builtin:
                return
            if name not in self.modules:
                needer = f" (needed by {wanted_by})" if wanted_by else ""
                raise InitramfsError(
                    f"module {name!r}{needer} is neither a module nor "
                    f"built into kernel {self.release}")
            if name in visiting:
                raise InitramfsError(f"dependency loop at module {name!r}")
            visiting.add(name)
            for dep in self.depends(name):
                visit(dep, name)
            visiting.discard(name)
            order.append(name)

        for name in names:
            visit(module_name(name), None)
        for name in optional:
            if module_name(name) in self.modules:
                visit(module_name(name), None)
        return [self.modules[name] for name in order]


def kernel_release(kernel_root: str | Path) -> str:
    """The single kernel release under ``lib/modules`` of a package tree."""
    modules = Path(kernel_root) / "lib/modules"
    releases = sorted(p.name for p in modules.iterdir()
                      if p.is_dir()) if modules.is_dir() else []
    if len(releases) != 1:
        raise InitramfsError(f"expected one kernel release in {modules}, "
                             f"found {releases or 'none'}")
    return releases[0]


def kernel_image(kernel_root: str | Path) -> Path:
    """The kernel image (``boot/vmlinuz-*`` or ``boot/vmlinux-*``)."""
    boot = Path(kernel_root) / "boot"
    release = kernel_release(kernel_root)
    for prefix in ("vmlinuz-", "vmlinux-"):
        image = boot / (prefix + release)
        if image.is_file():
            return image
    raise InitramfsError(f"no vmlinuz-{release} or vmlinux-{release} "
                         f"in {boot}")


def _check_busybox(data: bytes, path: Path) -> None:
    if data[:4] != b"\x7fELF":
        raise InitramfsError(f"{path} is not an ELF binary")
    # a dynamically linked busybox would fail in the guest with no libc
    if b"ld-linux" in data[:4096]:
        raise InitramfsError(f"{path} is dynamically linked; use the "
                             f"busybox of Debian's busybox-static")


def make_archive(busybox: str | Path, modules: Sequence[Path],
                 init_script: str | Path = INIT_SCRIPT) -> Archive:
    """The initramfs contents as a :class:`Archive` (not compressed)."""
    busybox = Path(busybox)
    if not busybox.is_file():
        raise InitramfsError(f"busybox binary {busybox} does not exist")
    bb_data = busybox.read_bytes()
    _check_busybox(bb_data, busybox)
    archive = Archive(mtime=0)
    for directory in ("dev", "proc", "sys", "tmp", "run", "mnt", "etc",
                      "lib/modules", "sbin", "usr/bin", "usr/sbin"):
        archive.add_directory(directory)
    archive.add_char_device("dev/console", 5, 1)
    archive.add_char_device("dev/null", 1, 3, 0o666)
    archive.add_file("bin/busybox", bb_data, 0o755)
    archive.add_symlink("bin/sh", "busybox")
    archive.add_file("init", Path(init_script).read_bytes(), 0o755)
    names = []
    for path in modules:
        name = module_name(path) + ".ko"
        if name in names:
            raise InitramfsError(f"module {name} given twice")
        names.append(name)
        archive.add_file("lib/modules/" + name, _read_module(Path(path)))
    archive.add_file("etc/avocado-rr/modules",
                     "".join(n + "\n" for n in names).encode())
    return archive


def initramfs_bytes(busybox: str | Path, modules: Sequence[Path],
                    init_script: str | Path = INIT_SCRIPT) -> bytes:
    """The gzip'ed initramfs; the same inputs always give the same bytes."""
    cpio = make_archive(busybox, modules, init_script).to_bytes()
    return gzip.compress(cpio, compresslevel=9, mtime=0)


def inputs_digest(busybox: str | Path, modules: Sequence[Path],
                  init_script: str | Path = INIT_SCRIPT) -> str:
    """sha256 over the format version and every input's name and bytes."""
    digest = hashlib.sha256(f"avocado-rr-initramfs-{FORMAT_VERSION}\n"
                            .encode())
    items = [("busybox", Path(busybox)), ("init", Path(init_script))]
    items += [("module:" + module_name(p), Path(p)) for p in modules]
    for label, path in items:
        file_hash = hashlib.sha256(path.read_bytes()).hexdigest()
        digest.update(f"{label} {file_hash}\n".encode())
    return digest.hexdigest()


def build_initramfs(busybox: str | Path, kernel_root: str | Path,
                    cache_dir: str | Path,
                    modules: Iterable[str] = (),
                    init_script: str | Path = INIT_SCRIPT,
                    optional: Iterable[str] = ()) -> Path:
    """Build (or reuse) the initramfs for a kernel; return its path.

    :param busybox: the static busybox binary for the guest architecture
    :param kernel_root: extracted ``linux-image-*`` package
    :param cache_dir: where images are kept, named by the inputs' hash
    :param modules: module names to load (dependencies are added)
    :param optional: modules loaded only if this kernel has them
    """
    busybox = Path(busybox)
    if not busybox.is_file():
        raise InitramfsError(f"busybox binary {busybox} does not exist")
    module_files = ModuleTree(kernel_root).resolve(modules, optional)
    digest = inputs_digest(busybox, module_files, init_script)
    cache_dir = Path(cache_dir)
    target = cache_dir / f"initramfs-{digest[:16]}.cpio.gz"
    if target.is_file():
        return target
    data = initramfs_bytes(busybox, module_files, init_script)
    cache_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(target, data)
    return target


def build_for_arch(arch: str, busybox: str | Path, kernel_root: str | Path,
                   cache_dir: str | Path) -> Path:
    """:func:`build_initramfs` with the guest modules of ``arch``'s row of
    the target table (:mod:`avocado_rr.targets`)."""
    try:
        modules = targets.need(arch, "guest_modules")
    except targets.TargetError as details:
        raise InitramfsError(str(details)) from details
    return build_initramfs(busybox, kernel_root, cache_dir, modules,
                           optional=targets.target(arch).optional_modules)


def build_initramfs_for(catalogue, arch: str,
                        cache_dir: str | Path | None = None) -> Path:
    """The initramfs for QEMU target ``arch`` from the asset catalogue.

    Uses the package tree of the arch's kernel asset (for its modules) and
    ``busybox-<debian arch>``; the image is cached under
    ``<asset cache>/initramfs`` unless ``cache_dir`` is given.

    :param catalogue: an :class:`avocado_rr.assets.Catalogue`
    """
    from avocado_rr import assets  # pylint: disable=import-outside-toplevel
    try:
        kernel = targets.need(arch, "kernel_asset")
        debian_arch = targets.need(arch, "debian_arch")
    except targets.TargetError as details:
        raise InitramfsError(str(details)) from details
    kernel_root = catalogue.package_root(kernel)
    busybox = catalogue.fetch(f"busybox-{debian_arch}")
    if cache_dir is None:
        cache_dir = assets.cache_dir() / "initramfs"
    return build_for_arch(arch, busybox, kernel_root, cache_dir)


__all__ = ["INIT_SCRIPT", "InitramfsError", "ModuleTree", "build_for_arch",
           "build_initramfs", "build_initramfs_for", "initramfs_bytes",
           "inputs_digest", "kernel_image", "kernel_release",
           "make_archive", "module_name", "read_modinfo"]
