"""A runnable tree of one QEMU build, made from its unpacked .debs.

:mod:`avocado_rr.qemu_builds` resolves, locks and downloads a build's
packages (the whole dependency closure, C library included);
:func:`build_tree` extracts them into one tree of the asset cache that
runs on its own.  Its emulators run through the tree's own dynamic loader
(``ld-linux-x86-64.so.2 --inhibit-cache --library-path ...``) from small
wrapper scripts in the tree's ``bin/``, which also pass ``-L`` to the
tree's firmware and point ``QEMU_MODULE_DIR`` at the tree's modules. So
Debian 13's QEMU 11.1 runs on Debian 12 without root, chroot or the
host's libraries, and no version uses another's firmware. Absolute
symbolic links inside the tree (``/usr/share/qemu/bios.bin ->
/usr/share/seabios/...``) are rewritten to stay inside it.
:func:`check_wrapper` checks a finished tree's wrapper offline.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from avocado_rr.errors import AvocadoRRError

if TYPE_CHECKING:       # the catalogue's lock entry names what is built
    from avocado_rr.qemu_builds import LockedBuild

#: the file in a finished tree that names the lock entry it was built from
STAMP = ".avocado-rr-build"

#: the host architectures a tree can be run on: Debian arch -> (multiarch
#: triplet, dynamic loader)
HOSTS = {"amd64": ("x86_64-linux-gnu", "ld-linux-x86-64.so.2")}


class QemuBuildError(AvocadoRRError):
    """A QEMU build cannot be resolved, fetched, verified or run.

    Defined here, the lower of the two modules, and raised by
    :mod:`avocado_rr.qemu_builds` too (where callers catch it).
    """


def build_tree(locked: LockedBuild, debs: Sequence[Path], tree: Path) -> None:
    """Extract ``debs`` into ``tree`` with wrappers; atomic: the tree
    appears (with its stamp) only when complete."""
    triplet, loader_name = HOSTS[locked.host_arch]
    tree.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{tree.name}-",
                                dir=tree.parent))
    try:
        for deb in debs:
            proc = subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp)],
                                  capture_output=True, text=True,
                                  check=False)
            if proc.returncode != 0:
                raise QemuBuildError(f"dpkg-deb -x {deb} failed: "
                                     f"{proc.stderr.strip()}")
        _relink(tmp)
        loader = _find_loader(tmp, loader_name)
        libdirs = [d for d in (f"lib/{triplet}", f"usr/lib/{triplet}")
                   if (tmp / d).is_dir()]
        binaries = _emulators(tmp)
        if "qemu-system-x86_64" not in binaries:
            raise QemuBuildError("the closure has no qemu-system-x86_64")
        datadirs = _firmware_dirs(tmp, loader, libdirs,
                                  binaries["qemu-system-x86_64"], tree)
        bindir = tmp / "bin"
        bindir.mkdir(exist_ok=True)
        for name, binary in sorted(binaries.items()):
            _write_wrapper(bindir / name, tree, binary, loader, libdirs,
                           datadirs if name.startswith("qemu-system-")
                           else [], triplet, locked)
        (tmp / STAMP).write_text(locked.build_id + "\n")
        os.replace(tmp, tree)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _relink(root: Path) -> None:
    """Make absolute symbolic links under ``root`` point inside it."""
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            if not path.is_symlink():
                continue
            target = os.readlink(path)
            if not target.startswith("/"):
                continue
            inside = root / target.lstrip("/")
            path.unlink()
            path.symlink_to(os.path.relpath(inside, path.parent))


def _is_elf(path: Path) -> bool:
    try:
        with open(path, "rb") as file:
            return file.read(4) == b"\x7fELF"
    except OSError:
        return False


def _emulators(root: Path) -> dict[str, str]:
    """Command name -> the ELF binary it runs (relative to ``root``).

    ``usr/bin/qemu-*`` links resolve inside the tree; Debian 12's
    ``qemu-system-i386`` is a shell script that runs
    ``/usr/libexec/qemu-system-i386``, which is taken instead.
    """
    found = {}
    for command in sorted((root / "usr" / "bin").glob("qemu-*")):
        real = command.resolve()
        if not _is_elf(real):
            real = root / "usr" / "libexec" / command.name
            if not _is_elf(real):
                continue
        found[command.name] = str(real.relative_to(root.resolve()))
    return found


def _firmware_dirs(root: Path, loader: str, libdirs: Sequence[str],
                   binary: str, tree: Path) -> list[str]:
    """The tree's copies of the data directories QEMU was built to search
    (``-L help``: e.g. ``/usr/share/qemu`` and ``/usr/share/seabios``),
    as they will be named once ``root`` is renamed to ``tree``."""
    libpath = ":".join(str(root / d) for d in libdirs)
    proc = subprocess.run([str(root / loader), "--inhibit-cache",
                           "--library-path", libpath, str(root / binary),
                           "-L", "help"], capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        raise QemuBuildError(f"{binary} -L help failed in the new tree "
                             f"(exit {proc.returncode}): "
                             f"{proc.stderr.strip()}")
    dirs = []
    for line in proc.stdout.splitlines():
        line = line.strip()
        if "/../" in line:
            # relative to the executable (QEMU 7.2: "<bindir>/../share/
            # qemu"), which is the loader here: Debian's prefix is /usr
            relative = "usr/" + line.split("/../", 1)[1]
        elif line.startswith("/"):
            relative = line.lstrip("/")
        else:
            continue
        if (root / relative).is_dir() and f"{tree}/{relative}" not in dirs:
            dirs.append(f"{tree}/{relative}")
    if not dirs:
        raise QemuBuildError(f"{binary} -L help names no data directory "
                             f"that the tree has: {proc.stdout.strip()}")
    return dirs


def _find_loader(root: Path, name: str) -> str:
    for candidate in (f"usr/lib64/{name}", f"lib64/{name}"):
        path = root / candidate
        if path.exists():
            return candidate
    raise QemuBuildError(f"the closure has no dynamic loader {name} "
                         f"(looked in usr/lib64 and lib64)")


def _write_wrapper(path: Path, tree: Path, binary: str, loader: str,
                   libdirs: Sequence[str], datadirs: Sequence[str],
                   triplet: str, locked: LockedBuild) -> None:
    """A shell script that runs ``binary`` of ``tree`` through the tree's
    loader (``exec``: QEMU keeps the script's pid), with ``-L`` for each
    of ``datadirs`` first."""
    t = str(tree)
    libpath = ":".join(f"{t}/{d}" for d in libdirs)
    extra = "".join(f' -L "{d}"' for d in datadirs)
    path.write_text(
        "#!/bin/sh\n"
        f"# {path.name} of QEMU {locked.version} (Debian "
        f"{locked.debian_version}), run from its own tree by its own C "
        f"library.\n# Generated by avocado-rr (avocado_rr/qemu_tree.py)."
        "\n"
        f'export QEMU_MODULE_DIR="{t}/usr/lib/{triplet}/qemu"\n'
        f'exec "{t}/{loader}" --inhibit-cache --library-path "{libpath}" '
        f'"{t}/{binary}"{extra} "$@"\n')
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP
               | stat.S_IXOTH)


def check_wrapper(wrapper: Path, tree: Path, upstream: str) -> None:
    """The wrapper runs, reports QEMU ``upstream`` and loads every library
    from ``tree``.

    :raises QemuBuildError: saying which check failed.
    """
    script = wrapper.read_text()
    match = re.search(r'^exec "([^"]+)" --inhibit-cache --library-path '
                      r'"([^"]+)" "([^"]+)"', script, re.M)
    if not match:
        raise QemuBuildError(f"{wrapper} is not an avocado-rr wrapper")
    loader, libpath, binary = match.groups()
    listed = subprocess.run([loader, "--inhibit-cache", "--library-path",
                             libpath, "--list", binary], capture_output=True,
                            text=True, check=False)
    outside = []
    for line in listed.stdout.splitlines():
        found = re.search(r"=> (\S+)", line)
        if found and not found.group(1).startswith(str(tree)):
            outside.append(line.strip())
        elif "not found" in line:
            outside.append(line.strip())
    if listed.returncode != 0 or outside:
        raise QemuBuildError(f"{wrapper.name}: libraries not loaded from "
                             f"{tree}: {outside or listed.stderr.strip()}")
    if wrapper.name.startswith("qemu-system-"):
        try:
            out = subprocess.run([str(wrapper), "--version"], text=True,
                                 capture_output=True, timeout=60,
                                 check=True).stdout
        except (OSError, subprocess.SubprocessError) as exc:
            raise QemuBuildError(f"{wrapper} --version failed: "
                                 f"{exc}") from exc
        first = out.splitlines()[0] if out else ""
        if f"version {upstream}." not in first \
                and f"version {upstream} " not in first:
            raise QemuBuildError(f"{wrapper.name} reports {first!r}, not "
                                 f"QEMU {upstream}")
        listed = subprocess.run([str(wrapper), "-L", "help"], text=True,
                                capture_output=True, check=False).stdout
        dirs = [line.strip() for line in listed.splitlines()]
        for host_dir in (d for d in dirs if not d.startswith(str(tree))):
            own = f"{tree}/{host_dir.lstrip('/')}"
            if Path(own).is_dir() and own not in dirs[:dirs.index(host_dir)]:
                raise QemuBuildError(
                    f"{wrapper.name} searches the host's {host_dir} before "
                    f"its own {own}: it would use another QEMU's firmware")
