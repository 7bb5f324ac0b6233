"""The asset catalogue: kernels and friends, fetched offline from Debian.

The catalogue (``configs/assets.yaml``) says *what* an asset is: a file
inside a Debian package of some architecture, or a URL with a sha256.
The lock (``configs/assets.lock``) says *which build*: the resolved
package name and version, the .deb's sha256 and the extracted file's
sha256. Fetching always verifies against the lock.

Debian's archive only carries the current kernel build. When the locked
version has gone, :meth:`Catalogue.fetch` raises :class:`AssetUnavailable`
naming the available version, unless the update policy is on
(``AVOCADO_RR_ASSETS_UPDATE=1`` or ``Catalogue.load(update=True)``):
then it re-resolves the asset, logs a warning and rewrites the lock.
``avocado-rr assets lock`` refreshes the lock on purpose.

Cache: ``$AVOCADO_RR_CACHE_DIR``, else ``$XDG_CACHE_HOME/avocado-rr``,
else ``~/.cache/avocado-rr``::

    apt/<arch>/                private apt lists and cache per architecture
    debs/<arch>/<pkg>_<ver>_<arch>.deb
    pkgs/<arch>/<pkg>_<ver>/   the extracted package tree
    url/<name>/<sha256[:16]>/<file>
    manual/<name>/<file>       assets with no source, placed by the user
    locks/                     fcntl lock files
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import fnmatch
import hashlib
import logging
import os
import re
import time
from pathlib import Path
from typing import Iterable, Iterator

import yaml

from avocado_rr import debian, settings, targets
from avocado_rr.download import (ChecksumMismatch, DownloadError, Progress,
                                 fetch_url, file_lock, sha256_file)
from avocado_rr.errors import AvocadoRRError, Sha256Mismatch
from avocado_rr.lockedcatalogue import (UPDATE_ENV, YAML_LOADER,
                                        LockedCatalogue, LockKind)

LOG = logging.getLogger("avocado_rr.assets")

CACHE_ENV = settings.setting("cache_dir").variable
CATALOGUE_ENV = settings.setting("assets_catalogue").variable
LOCK_COMMAND = "avocado-rr assets lock"
FETCH_COMMAND = "avocado-rr assets fetch"

_REPO_CONFIGS = Path(__file__).resolve().parent.parent / "configs"
_PACKAGE_DATA = Path(__file__).resolve().parent / "data"


class AssetError(AvocadoRRError):
    """Base class of every asset problem."""


class CacheUnusable(AssetError):
    """The asset cache cannot be read or written (permissions, read-only,
    a file where a directory should be)."""


class AssetNotFound(AssetError):
    """The name is not in the catalogue, or the file has no source."""


class HashMismatch(AssetError, Sha256Mismatch):
    """A file's sha256 differs from the one the lock/catalogue expects."""


class AssetUnavailable(AssetError):
    """The locked package version is no longer in Debian's archive."""

    def __init__(self, message: str, locked: str | None = None,
                 available: str | None = None):
        super().__init__(message)
        self.locked = locked
        self.available = available


class NotLocked(AssetError):
    """A Debian asset has no entry in the lock file yet."""


def cache_dir() -> Path:
    """The cache root, from the environment."""
    if settings.get("cache_dir"):
        return Path(settings.get("cache_dir")).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "avocado-rr"


def default_catalogue_path() -> Path:
    """``$AVOCADO_RR_ASSETS_CATALOGUE``, the checkout's, or the installed one."""
    if settings.get("assets_catalogue"):
        return Path(settings.get("assets_catalogue"))
    for base in (_REPO_CONFIGS, _PACKAGE_DATA):
        if (base / "assets.yaml").is_file():
            return base / "assets.yaml"
    raise AssetError(f"no asset catalogue: neither {_REPO_CONFIGS} nor "
                     f"{_PACKAGE_DATA} has assets.yaml; set {CATALOGUE_ENV}")


@dataclasses.dataclass(frozen=True)
class AssetSpec:
    """One catalogue entry."""

    name: str
    arch: str | None = None
    package: str | None = None
    path: str | None = None
    url: str | None = None
    sha256: str | None = None
    kind: str = "file"
    follow: str | None = r"^linux-image-\d"
    description: str = ""
    #: Debian sources (``deb URI SUITE COMPONENT`` lines) instead of the
    #: system's, e.g. Debian 13 for an architecture Debian 12 lacks
    sources: tuple[str, ...] = ()
    #: the QEMU arches (``arch:`` tag values) an asset of an
    #: ``Architecture: all`` package serves, e.g. ppc for U-Boot's ppce500
    guests: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, name: str, data: dict) -> "AssetSpec":
        known = {f.name for f in dataclasses.fields(cls)} - {"name"}
        unknown = set(data) - known
        if unknown:
            raise AssetError(f"asset {name}: unknown keys {sorted(unknown)} "
                             f"(known: {sorted(known)})")
        for key in ("sources", "guests"):
            if key in data:
                data = {**data, key: tuple(data[key] or ())}
        spec = cls(name=name, **data)
        if spec.package and not (spec.arch and spec.path):
            raise AssetError(f"asset {name}: a Debian package source needs "
                             f"'arch' and 'path'")
        if spec.url and not spec.sha256:
            raise AssetError(f"asset {name}: url {spec.url} has no sha256; "
                             f"a URL source must name the file's sha256")
        if not (spec.package or spec.url or (spec.sha256 and spec.path)):
            raise AssetError(f"asset {name}: needs a 'package', a 'url' "
                             f"with 'sha256', or 'path' and 'sha256'")
        return spec


@dataclasses.dataclass(frozen=True)
class LockEntry:
    """What the lock records for a Debian asset."""

    package: str
    version: str
    arch: str
    deb_sha256: str
    member: str
    sha256: str

    @property
    def tree_name(self) -> str:
        return f"{self.package}_{self.version.replace(':', '%3a')}"

    @classmethod
    def from_dict(cls, name: str, data: dict) -> "LockEntry":
        """The entry of asset ``name`` in the lock."""
        return cls(**data)

    def to_dict(self) -> dict:
        """The entry's mapping in the lock."""
        return dataclasses.asdict(self)


class Catalogue(LockedCatalogue[LockEntry]):
    """The asset catalogue with its lock and cache."""

    kind = LockKind(section="assets", entry_type=LockEntry,
                    title="asset lock", command=LOCK_COMMAND,
                    error=AssetError, gone=(AssetUnavailable,), log=LOG)

    def __init__(self, specs: dict[str, AssetSpec], path: Path | None,
                 lock_path: Path | None, cache: Path | None = None,
                 update: bool | None = None):
        self.specs = specs
        self.path = path
        super().__init__(lock_path, Path(cache) if cache else cache_dir(),
                         update)

    # -- loading -----------------------------------------------------------

    @classmethod
    def load(cls, path: str | Path | None = None,
             lock_path: str | Path | None = None,
             cache: str | Path | None = None,
             update: bool | None = None) -> "Catalogue":
        """Load a catalogue (default: the project's ``configs/assets.yaml``).

        The lock defaults to ``assets.lock`` next to the catalogue.
        """
        path = Path(path) if path else default_catalogue_path()
        try:
            data = yaml.load(path.read_text(encoding="utf-8"),
                             Loader=YAML_LOADER) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise AssetError(f"cannot read asset catalogue {path}: {exc}")
        entries = data.get("assets")
        if not isinstance(entries, dict):
            raise AssetError(f"{path}: expected a mapping under 'assets'")
        specs = {name: AssetSpec.from_dict(name, entry or {})
                 for name, entry in entries.items()}
        lock_path = Path(lock_path) if lock_path else path.with_suffix(
            ".lock")
        return cls(specs, path, lock_path, cache, update)

    # -- the lock (its core is LockedCatalogue's) --------------------------

    def _lock_subject(self) -> str:
        return self.path.name

    def _label(self, name: str) -> str:
        return f"asset {name}"

    def _relock(self, name: str, progress: Progress | None) -> LockEntry:
        return self.lock([name], progress)[name]

    def _not_locked(self, name: str) -> NotLocked:
        return NotLocked(f"asset {name} has no entry in {self.lock_path}; "
                         f"run `{LOCK_COMMAND} {name}` or set {UPDATE_ENV}=1")

    # -- queries -----------------------------------------------------------

    def names(self, arch: str | None = None,
              kind: str | None = None) -> list[str]:
        """Asset names, optionally only of an arch and/or kind.

        ``arch`` is a Debian architecture or an arch of the target table
        (``x86_64``, ``aarch64``, ``arm``, ``ppc64``...).
        """
        row = targets.find(arch)
        if row is not None and row.debian_arch is not None:
            arch = row.debian_arch
        return [name for name, spec in self.specs.items()
                if (arch is None or spec.arch == arch)
                and (kind is None or spec.kind == kind)]

    def spec(self, name: str) -> AssetSpec:
        """The catalogue entry of ``name``."""
        try:
            return self.specs[name]
        except KeyError:
            raise AssetNotFound(
                f"no asset named {name!r} in {self.path}; known: "
                f"{', '.join(sorted(self.specs))}") from None

    def _apt(self, spec: AssetSpec) -> debian.AptArch:
        """apt for the spec's architecture and sources (a private state
        per set of sources: ``apt/`` for the system's)."""
        if not spec.sources:
            return debian.AptArch(spec.arch, self.cache / "apt")
        key = hashlib.sha256("\n".join(spec.sources).encode()).hexdigest()
        return debian.AptArch(spec.arch, self.cache / f"apt-{key[:12]}",
                              sources=spec.sources)

    def _tree(self, entry: LockEntry) -> Path:
        return self.cache / "pkgs" / entry.arch / entry.tree_name

    def _deb(self, entry: LockEntry) -> Path:
        info = debian.PackageInfo(entry.package, entry.version, entry.arch,
                                  entry.deb_sha256, "", 0)
        return self.cache / "debs" / entry.arch / info.deb_name

    def local_path(self, name: str) -> Path | None:
        """Where ``name`` is (or would be) cached; None if unlocked."""
        spec = self.spec(name)
        if spec.package:
            entry = self.locked(name)
            if entry:
                return self._tree(entry) / entry.member
            if not spec.url:
                return None
        if spec.url:
            return (self.cache / "url" / name / spec.sha256[:16]
                    / spec.url.rstrip("/").rsplit("/", 1)[-1])
        return self.cache / "manual" / name / Path(spec.path).name

    def expected_sha256(self, name: str) -> str | None:
        """The sha256 the cached file must have."""
        spec = self.spec(name)
        entry = self.locked(name) if spec.package else None
        return entry.sha256 if entry else spec.sha256

    def status(self, name: str) -> str:
        """``ok``, ``missing``, ``unlocked`` or ``corrupt`` (hashes the file)."""
        path = self.local_path(name)
        if path is None:
            return "unlocked"
        if not path.is_file():
            return "missing"
        return "ok" if sha256_file(path) == self.expected_sha256(name) \
            else "corrupt"

    # -- fetching ----------------------------------------------------------

    def fetch(self, name: str, progress: Progress | None = None) -> Path:
        """The verified local path of asset ``name``, fetched if needed.

        :raises AssetNotFound: unknown name, or no source and not cached
        :raises NotLocked: a Debian asset without a lock entry
        :raises AssetUnavailable: the locked version is gone from Debian
        :raises HashMismatch: a download does not match the lock
        :raises CacheUnusable: the cache cannot be read or written
        """
        with self._cache_errors(name):
            return self._fetch(name, progress)

    def _fetch(self, name: str, progress: Progress | None) -> Path:
        spec = self.spec(name)
        if spec.package:
            try:
                return self._fetch_debian(spec, progress)
            except (debian.AptError, NotLocked) as exc:
                if not spec.url:
                    raise
                LOG.warning("asset %s: Debian source failed (%s), trying "
                            "%s", name, exc, spec.url)
        if spec.url:
            return self._fetch_url(spec, progress)
        path = self.local_path(name)
        if path.is_file():
            return self._check_file(spec, path, spec.sha256)
        raise AssetNotFound(
            f"asset {name} (sha256 {spec.sha256}) is not at {path} and has "
            f"no source to fetch it from; place the file there")

    def fetch_all(self, names: Iterable[str] | None = None,
                  progress: Progress | None = None) -> dict[str, Path]:
        """Fetch several assets (default: all); returns name -> path."""
        return {name: self.fetch(name, progress)
                for name in (self.names() if names is None else names)}

    def verify(self, name: str) -> Path:
        """Check the cached file of ``name`` without fetching anything."""
        self.spec(name)  # an unknown name raises AssetNotFound
        path = self.local_path(name)
        if path is None:
            raise self._not_locked(name)
        with self._cache_errors(name):
            if not path.is_file():
                raise AssetNotFound(f"asset {name} is not cached (expected "
                                    f"{path}); fetch it with "
                                    f"`{FETCH_COMMAND} {name}`")
            expected = self.expected_sha256(name)
            actual = sha256_file(path)
        if actual != expected:
            raise HashMismatch(f"asset {name}: {path} has sha256 {actual}, "
                               f"the lock expects {expected}; "
                               f"`{FETCH_COMMAND} {name}` replaces the "
                               f"cached file", expected, actual)
        return path

    @contextlib.contextmanager
    def _cache_errors(self, name: str) -> Iterator[None]:
        """Turn an OS error on a path of the cache into CacheUnusable."""
        try:
            yield
        except OSError as exc:
            cache = os.path.abspath(self.cache)
            where = os.path.abspath(exc.filename or "")
            if not (where + os.sep).startswith(cache + os.sep):
                raise
            raise CacheUnusable(
                f"asset {name}: the asset cache {self.cache} is unusable "
                f"({exc.strerror}: {exc.filename}); make it readable and "
                f"writable (chmod -R u+rwX {self.cache}; chown it to this "
                f"user) or point {CACHE_ENV} at another directory, then run "
                f"`{FETCH_COMMAND} {name}`") from exc

    def package_root(self, name: str) -> Path:
        """The extracted tree of the Debian package of asset ``name``.

        E.g. ``package_root("kernel-x86_64") / "lib/modules"`` holds the
        modules of the very kernel ``fetch("kernel-x86_64")`` returns.
        """
        if not self.spec(name).package:
            raise AssetError(f"asset {name} does not come from a Debian "
                             f"package")
        path = self.fetch(name)
        entry = self.locked(name)
        return Path(str(path)[:-len(entry.member)].rstrip("/"))

    def kernel_release(self, name: str) -> str:
        """The kernel release (``uname -r``) of a kernel asset."""
        root = self.package_root(name)
        modules = sorted((root / "lib" / "modules").glob("*"))
        if len(modules) == 1:
            return modules[0].name
        member = Path(self.locked(name).member).name
        match = re.match(r"vmlinu[xz]-(.+)$", member)
        if not match:
            raise AssetError(f"asset {name}: cannot tell the kernel "
                             f"release of {member}")
        return match.group(1)

    def _check_file(self, spec: AssetSpec, path: Path, expected: str) -> Path:
        actual = sha256_file(path)
        if actual != expected:
            raise HashMismatch(f"asset {spec.name}: {path} has sha256 "
                               f"{actual}, expected {expected}",
                               expected, actual)
        return path

    def _fetch_url(self, spec: AssetSpec, progress: Progress | None) -> Path:
        dest = self.local_path(spec.name)
        try:
            return fetch_url(spec.url, dest, spec.sha256, progress)
        except ChecksumMismatch as exc:
            raise HashMismatch(f"asset {spec.name}: {exc}", exc.expected,
                               exc.actual) from exc
        except DownloadError as exc:
            raise AssetUnavailable(f"asset {spec.name}: {exc}") from exc

    def _fetch_debian(self, spec: AssetSpec,
                      progress: Progress | None) -> Path:
        return self._fetch_locked(
            spec.name, lambda entry: self._materialise(spec, entry, progress),
            progress)

    def _materialise(self, spec: AssetSpec, entry: LockEntry,
                     progress: Progress | None) -> Path:
        """Have the locked package extracted and its member verified."""
        tree = self._tree(entry)
        path = tree / entry.member
        with file_lock(self.cache / "locks" / f"{entry.tree_name}.lock"):
            if tree.is_dir():
                if path.is_file() and sha256_file(path) == entry.sha256:
                    return path
                aside = self._move_aside(tree, "corrupt")
                LOG.warning("asset %s: cached %s does not match the lock "
                            "(sha256 %s); moved the tree aside to %s and "
                            "fetching again", spec.name, path, entry.sha256,
                            aside)
            deb = self._get_deb(spec, entry, progress)
            debian.extract(deb, tree)
            if not path.is_file():
                aside = self._move_aside(tree, "rejected")
                raise AssetNotFound(f"asset {spec.name}: {entry.member} is "
                                    f"not in {deb.name} (tree kept at "
                                    f"{aside})")
            actual = sha256_file(path)
            if actual != entry.sha256:
                aside = self._move_aside(tree, "rejected")
                raise HashMismatch(
                    f"asset {spec.name}: {entry.member} of {entry.package} "
                    f"{entry.version} has sha256 {actual}, the lock expects "
                    f"{entry.sha256} (extracted tree kept at {aside}); if "
                    f"the lock is what is wrong, refresh it with "
                    f"`{LOCK_COMMAND} {spec.name}`",
                    entry.sha256, actual)
            return path

    def _get_deb(self, spec: AssetSpec, entry: LockEntry,
                 progress: Progress | None) -> Path:
        deb = self._deb(entry)
        if deb.is_file():
            if sha256_file(deb) == entry.deb_sha256:
                return deb
            aside = self._move_aside(deb, "corrupt")
            LOG.warning("asset %s: cached %s does not match the lock; "
                        "moved aside to %s", spec.name, deb.name, aside)
        apt = self._apt(spec)
        try:
            info = apt.show(entry.package, entry.version)
        except debian.PackageNotInIndex as exc:
            try:
                now = apt.resolve(spec.package, spec.follow)
                available = f"{spec.package} now gives {now.name} {now.version}"
                now_version = now.version
            except debian.AptError:
                available, now_version = "nothing available", None
            raise AssetUnavailable(
                f"asset {spec.name}: locked {entry.package} {entry.version} "
                f"({entry.arch}) is no longer in Debian's archive "
                f"({available}); refresh the lock with `{LOCK_COMMAND} "
                f"{spec.name}` or set {UPDATE_ENV}=1",
                locked=entry.version, available=now_version) from exc
        if info.sha256 and info.sha256 != entry.deb_sha256:
            raise HashMismatch(
                f"asset {spec.name}: Debian's index gives {entry.package} "
                f"{entry.version} sha256 {info.sha256}, the lock expects "
                f"{entry.deb_sha256}; if the lock is what is wrong, refresh "
                f"it with `{LOCK_COMMAND} {spec.name}`", entry.deb_sha256,
                info.sha256)
        return apt.download(info, deb.parent, progress)

    @staticmethod
    def _move_aside(path: Path, why: str) -> Path:
        aside = path.with_name(f"{path.name}.{why}-{int(time.time())}")
        os.replace(path, aside)
        return aside

    # -- locking -----------------------------------------------------------

    def lock(self, names: Iterable[str] | None = None,
             progress: Progress | None = None) -> dict[str, LockEntry]:
        """Re-resolve Debian assets to the current builds; rewrite the lock.

        Downloads and extracts each package to hash the member file.
        Returns the new entries.
        """
        names = list(self.names() if names is None else names)
        new = {}
        for name in names:
            spec = self.spec(name)
            if not spec.package:
                continue
            apt = self._apt(spec)
            apt.update(force=True)
            info = apt.resolve(spec.package, spec.follow)
            old = self._locked.get(name)
            deb_dir = self.cache / "debs" / spec.arch
            deb = deb_dir / info.deb_name
            if not (deb.is_file() and sha256_file(deb) == info.sha256):
                deb = apt.download(info, deb_dir, progress)
            tree = self.cache / "pkgs" / spec.arch / LockEntry(
                info.name, info.version, spec.arch, "", "", "").tree_name
            with file_lock(self.cache / "locks" / f"{tree.name}.lock"):
                debian.extract(deb, tree)
            member = self._find_member(spec, tree)
            entry = LockEntry(package=info.name, version=info.version,
                              arch=spec.arch, deb_sha256=info.sha256
                              or sha256_file(deb), member=member,
                              sha256=sha256_file(tree / member))
            if old != entry:
                LOG.warning("asset %s: lock %s -> %s %s", name,
                            f"{old.package} {old.version}" if old
                            else "(none)", entry.package, entry.version)
            new[name] = entry
        self._pin(new)
        return new

    @staticmethod
    def _find_member(spec: AssetSpec, tree: Path) -> str:
        pattern = spec.path.lstrip("/")
        found = sorted(str(p.relative_to(tree)) for p in tree.rglob("*")
                       if p.is_file() and fnmatch.fnmatch(
                           str(p.relative_to(tree)), pattern))
        if len(found) != 1:
            raise AssetError(f"asset {spec.name}: path {spec.path!r} matches "
                             f"{found or 'nothing'} in {tree.name}; it must "
                             f"match exactly one file")
        return found[0]


@functools.cache
def default_catalogue() -> Catalogue:
    """The project's catalogue, loaded once."""
    return Catalogue.load()


def resolve_asset(name_or_path: str | os.PathLike,
                  catalogue: Catalogue | None = None,
                  progress: Progress | None = None) -> Path:
    """An existing local path as-is; otherwise fetch the catalogue name."""
    path = Path(name_or_path).expanduser()
    if path.exists():
        return path
    name = str(name_or_path)
    cat = catalogue or default_catalogue()
    if name not in cat.specs:
        raise AssetNotFound(f"{name!r} is neither an existing file nor an "
                            f"asset of {cat.path} (known: "
                            f"{', '.join(sorted(cat.specs))})")
    return cat.fetch(name, progress)
