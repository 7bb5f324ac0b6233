"""QEMU builds as assets: Debian's QEMU releases, side by side.

``configs/qemu.yaml`` names each QEMU version the suite tests (``7.2``,
``10.0``, ``11.1``): the Debian sources to take it from, apt's target
release and the packages. ``configs/qemu.lock`` pins what was resolved:
every package of the closure by version and sha256.

A build is the whole dependency closure of its packages, C library
included, resolved against an empty dpkg status and extracted into one
tree of the asset cache that runs on its own, through its own dynamic
loader, libraries and firmware (:mod:`avocado_rr.qemu_tree`). So Debian
13's QEMU 11.1 runs on Debian 12 without root, chroot or the host's
libraries, and no version uses another's firmware.

After a fetch everything is offline. When a locked package has left
Debian's archive (a point release), fetching fails naming the lock
command, unless the update policy is on (``AVOCADO_RR_ASSETS_UPDATE=1``,
as for kernels): then the version is re-resolved loudly, but never to
another upstream release than its label.

Cache (see :func:`avocado_rr.assets.cache_dir`)::

    qemu/apt/<version>/amd64/   private apt state with the version's sources
    qemu/debs/<deb>             the downloaded packages
    qemu/trees/<version>-<id>/  the extracted tree, with bin/ wrappers
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import logging
import os
import subprocess
import time
from pathlib import Path
from typing import Iterable

import yaml

from avocado_rr import debian
from avocado_rr.assets import cache_dir
from avocado_rr.download import Progress, file_lock, sha256_file
from avocado_rr.lockedcatalogue import UPDATE_ENV, LockedCatalogue, LockKind
from avocado_rr.qemu_tree import (HOSTS, STAMP, QemuBuildError, build_tree,
                                  check_wrapper)

LOG = logging.getLogger("avocado_rr.qemu_builds")

#: the checkout's catalogue, else the one installed with the package
CATALOGUE_PATH = next(
    (path for path in (
        Path(__file__).resolve().parent.parent / "configs" / "qemu.yaml",
        Path(__file__).resolve().parent / "data" / "qemu.yaml")
     if path.is_file()),
    Path(__file__).resolve().parent.parent / "configs" / "qemu.yaml")
LOCK_COMMAND = "avocado-rr qemu lock"
FETCH_COMMAND = "avocado-rr qemu fetch"


class BuildNotFetched(QemuBuildError):
    """The build is not in the cache (and may not be fetched now)."""


@dataclasses.dataclass(frozen=True)
class BuildSpec:
    """What ``configs/qemu.yaml`` says about one QEMU version."""

    #: the label, e.g. ``11.1``
    version: str
    description: str
    #: the QEMU release the build must report, e.g. ``11.1``
    upstream: str
    #: one-line ``deb URI SUITE COMPONENT`` apt sources
    sources: tuple[str, ...]
    #: apt's target release (``-t``), e.g. ``trixie-backports``
    release: str | None
    #: what the closure is resolved from; the first is the one whose
    #: version labels the build
    packages: tuple[str, ...]

    @classmethod
    def from_dict(cls, version: str, data: dict) -> "BuildSpec":
        try:
            return cls(version=version,
                       description=str(data.get("description", "")),
                       upstream=str(data.get("upstream", version)),
                       sources=tuple(data["sources"]),
                       release=data.get("release"),
                       packages=tuple(data["packages"]))
        except (KeyError, TypeError) as exc:
            raise QemuBuildError(f"QEMU version {version} in "
                                 f"{CATALOGUE_PATH.name}: missing or bad "
                                 f"field {exc}") from None


@dataclasses.dataclass(frozen=True)
class LockedPackage:
    """One package of a locked closure."""

    name: str
    version: str
    arch: str
    sha256: str
    size: int = 0

    @property
    def deb_name(self) -> str:
        return self.info().deb_name

    def info(self) -> debian.PackageInfo:
        return debian.PackageInfo(self.name, self.version, self.arch,
                                  self.sha256, "", self.size)


@dataclasses.dataclass(frozen=True)
class LockedBuild:
    """What ``configs/qemu.lock`` pins for one QEMU version."""

    version: str
    #: Debian version of qemu-system-x86, e.g. ``1:11.1.3+ds-2~bpo13+1``
    debian_version: str
    host_arch: str
    packages: tuple[LockedPackage, ...]

    @property
    def build_id(self) -> str:
        """A short digest of the pinned packages: names the tree."""
        text = "\n".join(f"{p.name} {p.version} {p.arch} {p.sha256}"
                         for p in self.packages)
        return hashlib.sha256(f"{self.host_arch}\n{text}".encode()) \
            .hexdigest()[:12]

    def to_dict(self) -> dict:
        return {"debian_version": self.debian_version,
                "host_arch": self.host_arch,
                "packages": [dataclasses.asdict(p) for p in self.packages]}

    @classmethod
    def from_dict(cls, version: str, data: dict) -> "LockedBuild":
        return cls(version=version, debian_version=data["debian_version"],
                   host_arch=data["host_arch"],
                   packages=tuple(LockedPackage(**p)
                                  for p in data["packages"]))


def host_arch() -> str:
    """This machine's Debian architecture (``dpkg --print-architecture``)."""
    try:
        return subprocess.run(["dpkg", "--print-architecture"], text=True,
                              capture_output=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as exc:
        raise QemuBuildError(f"cannot tell this machine's Debian "
                             f"architecture: {exc}") from exc


def upstream_of(debian_version: str) -> str:
    """``1:11.1.3+ds-2~bpo13+1`` -> ``11.1.3``."""
    return debian_version.split(":", 1)[-1].split("+", 1)[0].split("-", 1)[0]


class QemuBuilds(LockedCatalogue[LockedBuild]):
    """The QEMU versions of the catalogue, their lock and their trees."""

    kind = LockKind(section="qemu", entry_type=LockedBuild,
                    title="QEMU lock", command=LOCK_COMMAND,
                    error=QemuBuildError, gone=(debian.PackageNotInIndex,),
                    log=LOG)

    def __init__(self, specs: dict[str, BuildSpec], lock_path: Path,
                 cache: Path | None = None, update: bool | None = None):
        self.specs = specs
        super().__init__(lock_path, Path(cache) if cache else cache_dir(),
                         update)
        self.root = self.cache / "qemu"

    @classmethod
    def load(cls, path: str | Path | None = None,
             lock_path: str | Path | None = None,
             cache: str | Path | None = None,
             update: bool | None = None) -> "QemuBuilds":
        """Load the catalogue (default ``configs/qemu.yaml``) and its lock
        (default: ``qemu.lock`` next to it)."""
        path = Path(path) if path else CATALOGUE_PATH
        try:
            data = yaml.safe_load(path.read_text("utf-8")) or {}
            versions = data["versions"]
        except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
            raise QemuBuildError(f"cannot read the QEMU catalogue {path}: "
                                 f"{exc}") from exc
        specs = {str(v): BuildSpec.from_dict(str(v), d or {})
                 for v, d in versions.items()}
        lock = Path(lock_path) if lock_path else path.with_suffix(".lock")
        return cls(specs, lock, cache, update)

    # -- queries -----------------------------------------------------------

    def versions(self) -> list[str]:
        """The catalogue's versions, oldest first."""
        return sorted(self.specs, key=lambda v: tuple(
            int(p) if p.isdigit() else 0 for p in v.split(".")))

    def spec(self, version: str) -> BuildSpec:
        """The catalogue entry of ``version``."""
        if str(version) not in self.specs:
            raise QemuBuildError(
                f"no QEMU version {version!r} in {CATALOGUE_PATH.name}; "
                f"known: {', '.join(self.versions())}")
        return self.specs[str(version)]

    def tree(self, locked: LockedBuild) -> Path:
        return self.root / "trees" / f"{locked.version}-{locked.build_id}"

    def status(self, version: str) -> str:
        """``ok``, ``missing`` or ``unlocked`` (offline, no hashing)."""
        locked = self.locked(version)
        if locked is None:
            return "unlocked"
        return "ok" if self._finished(locked) else "missing"

    def bin_dir(self, version: str, fetch: bool = True,
                progress: Progress | None = None) -> Path:
        """The directory of the version's ``qemu-system-*`` wrappers.

        :param fetch: fetch the build when it is not cached; with False a
            missing build raises :class:`BuildNotFetched`.
        """
        locked = self.locked(version)
        if locked is not None and self._finished(locked):
            return self.tree(locked) / "bin"
        if not fetch:
            raise BuildNotFetched(
                f"QEMU {version} is not in the asset cache {self.root} "
                f"(offline); fetch it with `{FETCH_COMMAND} {version}`")
        return self.fetch(version, progress) / "bin"

    def _finished(self, locked: LockedBuild) -> bool:
        stamp = self.tree(locked) / STAMP
        try:
            return stamp.read_text().strip() == locked.build_id
        except OSError:
            return False

    # -- the lock (its core is LockedCatalogue's) --------------------------

    def _lock_subject(self) -> str:
        return f"each QEMU version of {CATALOGUE_PATH.name}"

    def _label(self, version: str) -> str:
        return f"QEMU {version}"

    def _relock(self, version: str,
                progress: Progress | None) -> LockedBuild:
        return self.lock(version)

    def _not_locked(self, version: str) -> QemuBuildError:
        return QemuBuildError(
            f"QEMU {version} is not locked in {self.lock_path}; run "
            f"`{LOCK_COMMAND} {version}` (or set {UPDATE_ENV}=1 to resolve "
            f"it while fetching)")

    def _gone_error(self, version: str,
                    exc: Exception) -> QemuBuildError:
        return QemuBuildError(
            f"QEMU {version}: locked packages are no longer in Debian's "
            f"archive ({exc}); refresh the lock with `{LOCK_COMMAND} "
            f"{version}` or set {UPDATE_ENV}=1")

    def _apt(self, spec: BuildSpec, arch: str) -> debian.AptArch:
        return debian.AptArch(arch, self.root / "apt" / spec.version,
                              sources=spec.sources)

    def lock(self, version: str) -> LockedBuild:
        """Resolve ``version`` to the archive's current closure; pin it."""
        spec = self.spec(version)
        arch = host_arch()
        if arch not in HOSTS:
            raise QemuBuildError(f"QEMU builds run on {', '.join(HOSTS)} "
                                 f"hosts only; this one is {arch}")
        apt = self._apt(spec, arch)
        try:
            apt.update(force=True)
            pairs = apt.closure(spec.packages, spec.release)
            infos = apt.show_many(pairs)
        except debian.AptError as exc:
            raise QemuBuildError(f"QEMU {version}: {exc}") from exc
        main = next((i for i in infos if i.name == spec.packages[0]), None)
        if main is None:
            raise QemuBuildError(f"QEMU {version}: {spec.packages[0]} is "
                                 f"not in its own closure")
        got = upstream_of(main.version)
        if got != spec.upstream and not got.startswith(spec.upstream + "."):
            raise QemuBuildError(
                f"QEMU {version}: {spec.release or 'the sources'} now give "
                f"{main.name} {main.version} (QEMU {got}), not QEMU "
                f"{spec.upstream}; the label would lie: add a version for "
                f"it to {CATALOGUE_PATH.name} instead")
        missing = [i.name for i in infos if not i.sha256]
        if missing:
            raise QemuBuildError(f"QEMU {version}: the index gives no "
                                 f"sha256 for {', '.join(missing)}")
        locked = LockedBuild(
            version=spec.version, debian_version=main.version,
            host_arch=arch,
            packages=tuple(LockedPackage(i.name, i.version, i.arch,
                                         i.sha256, i.size) for i in infos))
        old = self._locked.get(spec.version)
        if old != locked:
            LOG.warning("QEMU %s: lock %s -> %s (%d packages)", version,
                        old.debian_version if old else "(none)",
                        locked.debian_version, len(locked.packages))
        self._pin({spec.version: locked})
        return locked

    # -- fetching ----------------------------------------------------------

    def fetch(self, version: str, progress: Progress | None = None) -> Path:
        """The tree of ``version``, downloaded and built if needed."""
        spec = self.spec(version)
        return self._fetch_locked(
            version,
            lambda locked: self._materialise(spec, locked, progress),
            progress)

    def _materialise(self, spec: BuildSpec, locked: LockedBuild,
                     progress: Progress | None) -> Path:
        tree = self.tree(locked)
        with file_lock(self.cache / "locks" / f"qemu-{tree.name}.lock"):
            if self._finished(locked):
                return tree
            if tree.exists():
                aside = tree.with_name(f"{tree.name}.partial-"
                                       f"{int(time.time())}")
                os.replace(tree, aside)
                LOG.warning("QEMU %s: unfinished tree moved aside to %s",
                            spec.version, aside)
            debs = self._get_debs(spec, locked, progress)
            build_tree(locked, debs, tree)
        LOG.info("QEMU %s (%s): %s", spec.version, locked.debian_version,
                 tree)
        return tree

    def _get_debs(self, spec: BuildSpec, locked: LockedBuild,
                  progress: Progress | None) -> list[Path]:
        """The locked .debs, downloaded where not cached or corrupt."""
        dest = self.root / "debs"
        wanted = []
        for package in locked.packages:
            deb = dest / package.deb_name
            if deb.is_file() and sha256_file(deb) == package.sha256:
                continue
            wanted.append(package)
        if wanted:
            apt = self._apt(spec, locked.host_arch)
            infos = apt.show_many([(p.name, p.version) for p in wanted])
            for package, info in zip(wanted, infos):
                if info.sha256 != package.sha256:
                    raise QemuBuildError(
                        f"QEMU {spec.version}: Debian's index gives "
                        f"{package.name} {package.version} sha256 "
                        f"{info.sha256}, the lock expects {package.sha256}")
            try:
                apt.download_many(infos, dest, progress)
            except debian.AptError as exc:
                raise QemuBuildError(f"QEMU {spec.version}: {exc}") from exc
        return [dest / p.deb_name for p in locked.packages]

    # -- verification ------------------------------------------------------

    def verify(self, version: str) -> Path:
        """Check a fetched build offline: every .deb against the lock, the
        tree's stamp, every emulator's libraries inside the tree and its
        ``--version`` against the label. Returns the bin dir."""
        spec = self.spec(version)
        locked = self.locked(version)
        if locked is None:
            raise QemuBuildError(f"QEMU {version} is not locked; run "
                                 f"`{LOCK_COMMAND} {version}`")
        if not self._finished(locked):
            raise BuildNotFetched(f"QEMU {version} is not fetched; run "
                                  f"`{FETCH_COMMAND} {version}`")
        for package in locked.packages:
            deb = self.root / "debs" / package.deb_name
            if not deb.is_file():
                raise QemuBuildError(f"QEMU {version}: {deb} is missing; "
                                     f"run `{FETCH_COMMAND} {version}`")
            actual = sha256_file(deb)
            if actual != package.sha256:
                raise QemuBuildError(
                    f"QEMU {version}: {deb.name} has sha256 {actual}, the "
                    f"lock expects {package.sha256}; delete it and run "
                    f"`{FETCH_COMMAND} {version}`")
        tree = self.tree(locked)
        for wrapper in sorted((tree / "bin").iterdir()):
            check_wrapper(wrapper, tree, spec.upstream)
        return tree / "bin"


@functools.cache
def default_builds() -> QemuBuilds:
    """The project's QEMU catalogue, loaded once."""
    return QemuBuilds.load()


def selected(versions: Iterable[str] | None) -> list[str]:
    """Check version names against the catalogue; all when None/empty."""
    builds = default_builds()
    versions = list(versions or [])
    for version in versions:
        builds.spec(version)
    return versions or builds.versions()
