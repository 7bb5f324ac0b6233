"""Find the QEMU under test and read its version.

Order of precedence for an architecture:

1. an explicit binary, QEMU build directory or QEMU version given by the
   caller (a test parameter or a command-line option), in that order;
2. the ``qemu_bin`` setting (``AVOCADO_RR_QEMU_BIN``: a binary; only used
   when it is the binary for the requested architecture), else
   ``qemu_build_dir`` (``AVOCADO_RR_QEMU_BUILD_DIR``: a QEMU build tree
   holding ``qemu-system-<arch>``), else ``qemu_version``
   (``AVOCADO_RR_QEMU_VERSION``);
3. ``qemu-system-<arch>`` on ``PATH``.

A QEMU version names one of Debian's builds of :mod:`avocado_rr.qemu_builds`
(``7.2``, ``10.0``, ``11.1``), fetched into the asset cache on first use
unless the ``offline`` setting is on.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from avocado_rr import settings, targets
from avocado_rr.assets import cache_dir
from avocado_rr.download import atomic_write
from avocado_rr.errors import AvocadoRRError
from avocado_rr.targets import QemuBinary


class QemuNotFound(AvocadoRRError):
    """No QEMU binary for the requested architecture."""


def binary_name(arch: str) -> str:
    """``qemu-system-<target>`` for an Avocado ``arch`` tag.

    :raises QemuNotFound: for an arch the target table does not know.
    """
    try:
        return targets.target(arch).binary_name
    except targets.UnknownTarget as details:
        raise QemuNotFound(str(details)) from details


def find_qemu(arch: str, qemu_bin: str | None = None,
              build_dir: str | None = None,
              qemu_version: str | None = None) -> QemuBinary:
    """Locate and identify the QEMU system emulator for ``arch``.

    :raises QemuNotFound: with the exact reason and how to fix it.
    """
    name = binary_name(arch)
    tried = []
    candidates: list[tuple[str, str]] = []
    explicit = bool(qemu_bin or build_dir or qemu_version)
    if qemu_bin:
        candidates.append(("explicit binary", qemu_bin))
    if build_dir:
        candidates.append(("explicit build dir", os.path.join(build_dir, name)))
    if qemu_version and not (qemu_bin or build_dir):
        candidates.append((f"QEMU version {qemu_version}",
                           os.path.join(version_bin_dir(qemu_version), name)))
    env_bin = settings.get("qemu_bin")
    env_bin_applies = bool(env_bin) and os.path.basename(env_bin) == name
    if env_bin_applies and not explicit:
        candidates.append(("AVOCADO_RR_QEMU_BIN", env_bin))
    env_dir = settings.get("qemu_build_dir")
    if env_dir and not explicit:
        candidates.append(("AVOCADO_RR_QEMU_BUILD_DIR",
                           os.path.join(env_dir, name)))
    env_version = settings.get("qemu_version")
    # resolving a version may fetch it: only when nothing before applies
    if env_version and not (explicit or env_dir or env_bin_applies):
        candidates.append((f"AVOCADO_RR_QEMU_VERSION={env_version}",
                           os.path.join(version_bin_dir(env_version), name)))
    for origin, path in candidates:
        found = shutil.which(path)
        if found:
            return identify(arch, os.path.abspath(found))
        tried.append(f"{path} ({origin})")
    if explicit or (env_version and not (env_dir or env_bin_applies)):
        raise QemuNotFound(f"{name}: not found or not executable: "
                           f"{'; '.join(tried)}")
    found = shutil.which(name)
    if found:
        return identify(arch, found)
    package = targets.target(arch).emulator_package
    hint = f"install {package} (apt-get install {package})" if package \
        else "install the QEMU package for it"
    tried.append(f"{name} on PATH")
    raise QemuNotFound(f"no QEMU binary for arch {arch}: tried "
                       f"{'; '.join(tried)}; {hint}, or name a binary with "
                       f"qemu_bin / AVOCADO_RR_QEMU_BIN, a build tree "
                       f"with AVOCADO_RR_QEMU_BUILD_DIR or a Debian build "
                       f"with qemu_version / AVOCADO_RR_QEMU_VERSION")


def version_bin_dir(version: str) -> str:
    """The bin dir of Debian's build of QEMU ``version`` (fetched now
    unless the ``offline`` setting is on).

    :raises QemuNotFound: when the version is unknown or cannot be had.
    """
    from avocado_rr import qemu_builds  # only runs that name a version
    try:
        builds = qemu_builds.default_builds()
        return os.fspath(builds.bin_dir(
            version, fetch=not settings.get_bool("offline")))
    except qemu_builds.QemuBuildError as exc:
        raise QemuNotFound(str(exc)) from exc


@functools.lru_cache(maxsize=None)
def identify(arch: str, path: str) -> QemuBinary:
    """The version of the binary at ``path``.

    ``path --version`` costs each test process about 65 ms, so its first
    line is cached on disk (``qemu-versions/`` in the asset cache) under
    the binary's identity: real path, device, inode, size, modification
    and change times.  A rebuilt or replaced binary has another identity
    and is probed again.
    """
    cached = _version_cache(path)
    line = None
    if cached is not None:
        try:
            line = cached.read_text()
        except OSError:
            line = None
    if line is None:
        line = _probe_version(path)
        if cached is not None:
            try:
                cached.parent.mkdir(parents=True, exist_ok=True)
                atomic_write(cached, line.encode())
            except OSError:
                pass                    # a read-only cache only costs time
    return QemuBinary(arch=arch, path=path, version_line=line,
                      version=parse_version(line))


def _probe_version(path: str) -> str:
    """The first line of ``path --version``."""
    try:
        out = subprocess.run([path, "--version"], capture_output=True,
                             text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError) as details:
        raise QemuNotFound(f"{path} does not run: {details}") from details
    return out.splitlines()[0] if out else ""


def _version_cache(path: str) -> Path | None:
    """The cache file for the binary at ``path`` as it is now (None when
    it cannot be stat'ed: then the probe gives the error)."""
    real = os.path.realpath(path)
    try:
        info = os.stat(real)
    except OSError:
        return None
    identity = (f"{real}\0{info.st_dev}\0{info.st_ino}\0{info.st_size}"
                f"\0{info.st_mtime_ns}\0{info.st_ctime_ns}")
    digest = hashlib.sha256(identity.encode()).hexdigest()[:32]
    return cache_dir() / "qemu-versions" / f"{os.path.basename(real)}-{digest}"


def parse_version(line: str) -> tuple[int, int, int]:
    """(major, minor, micro) from a ``--version`` line; (0, 0, 0) if none."""
    for word in line.split():
        parts = word.split(".")
        if len(parts) >= 2 and all(p.isdigit() for p in parts[:3]):
            nums = [int(p) for p in parts[:3]] + [0] * (3 - len(parts[:3]))
            return (nums[0], nums[1], nums[2])
    return (0, 0, 0)


def ask(path: str, *args: str) -> str:
    """What ``path`` prints for an option that only informs (``-machine
    help``, ``-L help``).

    :raises QemuNotFound: when it cannot run or fails, with its stderr.
    """
    command = f"{path} {' '.join(args)}"
    try:
        proc = subprocess.run([path, *args], capture_output=True, text=True,
                              timeout=30, check=False)
    except (OSError, subprocess.SubprocessError) as details:
        raise QemuNotFound(f"{command} failed: {details}") from details
    if proc.returncode != 0:
        raise QemuNotFound(f"{command} failed (exit {proc.returncode}): "
                           f"{proc.stderr.strip()}")
    return proc.stdout


def machine_names(path: str) -> list[str]:
    """The machine types ``path`` supports (``-machine help``), aliases
    included.

    :raises QemuNotFound: when it cannot say.
    """
    names = []
    for line in ask(path, "-machine", "help").splitlines()[1:]:
        words = line.split()
        if words:
            names.append(words[0])
        if "(alias of " in line:
            names.append(line.split("(alias of ", 1)[1].split(")")[0])
    return names
