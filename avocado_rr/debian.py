"""Debian package mechanics: a private apt state per architecture.

The system's apt configuration is never modified: every call passes
``-o`` options that point apt's lists and cache at a directory of our
own, while the system's sources and keyrings are reused as they are.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Sequence

from avocado_rr.download import Progress, file_lock, sha256_file
from avocado_rr.errors import AvocadoRRError

LOG = logging.getLogger("avocado_rr.debian")

#: An index older than this is refreshed before resolving a package.
INDEX_MAX_AGE = 24 * 3600
#: ... and one that partly failed to update is retried after this.
RETRY_PARTIAL = 3600


class AptError(AvocadoRRError):
    """apt-get or dpkg-deb failed, or a package is not in the index."""


class PackageNotInIndex(AptError):
    """The requested package (or version of it) is not in the apt index."""

    def __init__(self, message: str, available: str | None = None):
        super().__init__(message)
        #: the candidate version apt offers instead, if any
        self.available = available


@dataclasses.dataclass(frozen=True)
class PackageInfo:
    """One binary package version as the apt index describes it."""

    name: str
    version: str
    arch: str
    sha256: str
    filename: str
    size: int
    depends: str = ""

    @property
    def deb_name(self) -> str:
        """The file name ``apt-get download`` gives the package."""
        version = self.version.replace(":", "%3a")
        return f"{self.name}_{version}_{self.arch}.deb"


def parse_records(text: str) -> list[dict[str, str]]:
    """Parse deb822 records (``apt-cache show`` output) into dicts."""
    records = []
    for chunk in re.split(r"\n\s*\n", text.strip()):
        fields: dict[str, str] = {}
        key = None
        for line in chunk.splitlines():
            if line[:1] in (" ", "\t") and key is not None:
                fields[key] += "\n" + line.strip()
            elif ":" in line:
                key, _, value = line.partition(":")
                key = key.strip()
                fields[key] = value.strip()
        if fields:
            records.append(fields)
    return records


def depends_names(depends: str) -> list[str]:
    """Package names of a Depends field (first alternative of each)."""
    names = []
    for item in depends.split(","):
        first = item.split("|")[0].strip()
        name = re.split(r"[\s(:\[]", first, maxsplit=1)[0]
        if name:
            names.append(name)
    return names


class AptArch:
    """apt-get for one Debian architecture, with a private state dir.

    ``sources`` (one-line ``deb URI SUITE COMPONENT`` entries) replaces
    the system's sources with a private list, e.g. for another Debian
    release's packages; without it the system's sources are used.
    """

    def __init__(self, arch: str, root: Path,
                 sources: Sequence[str] | None = None):
        self.arch = arch
        self.root = Path(root) / arch
        self.lists = self.root / "lists"
        self.cache = self.root / "cache"
        self.sources = list(sources) if sources else None

    def options(self) -> list[str]:
        """The ``-o`` options that make apt use our private state."""
        status = self.root / "status"
        opts = [
            f"-oAPT::Architecture={self.arch}",
            f"-oAPT::Architectures={self.arch}",
            f"-oDir::State::Lists={self.lists}",
            f"-oDir::State::status={status}",
            f"-oDir::Cache={self.cache}",
            "-oDir::Cache::pkgcache=",
            "-oDir::Cache::srcpkgcache=",
            "-oAcquire::Languages=none",
        ]
        if self.sources is not None:
            empty = self.root / "empty.d"
            opts += [f"-oDir::Etc::SourceList={self.root / 'sources.list'}",
                     f"-oDir::Etc::SourceParts={empty}",
                     f"-oDir::Etc::Preferences={empty / 'none'}",
                     f"-oDir::Etc::PreferencesParts={empty}"]
        if os.geteuid() == 0:
            # the private dirs live in root's home, which the _apt
            # sandbox user cannot reach; apt would only warn and go on
            opts.append("-oAPT::Sandbox::User=root")
        return opts

    def _run(self, tool: str, *args: str, cwd: Path | None = None,
             check: bool = True) -> subprocess.CompletedProcess:
        cmd = [tool, *self.options(), *args]
        LOG.debug("running %s", " ".join(cmd))
        proc = subprocess.run(cmd, cwd=cwd, text=True, check=False,
                              stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE,
                              env={**os.environ, "LC_ALL": "C.UTF-8"})
        if check and proc.returncode != 0:
            raise AptError(f"{tool} {' '.join(args)} failed for "
                           f"{self.arch} (exit {proc.returncode}): "
                           f"{(proc.stderr or '').strip()}")
        return proc

    def _index_files(self) -> list[Path]:
        if not self.lists.is_dir():
            return []
        return [p for p in self.lists.iterdir() if "_Packages" in p.name]

    def index_age(self) -> float | None:
        """Seconds since the last successful update, None if never."""
        stamp = self.root / "updated"
        if not stamp.exists() or not self._index_files():
            return None
        if self.sources is not None:
            listed = self.root / "sources.list"
            text = "".join(f"{line}\n" for line in self.sources)
            if not listed.is_file() or listed.read_text() != text:
                return None             # the sources changed: stale
        return time.time() - stamp.stat().st_mtime

    def update(self, force: bool = False) -> None:
        """Download the package index for this architecture.

        A partly failed update (one suite's index out of sync with the
        mirror) is usable: it is logged and the indexes that did load
        are used.
        """
        with file_lock(self.root / "lock"):
            age = self.index_age()
            if not force and age is not None and age < INDEX_MAX_AGE:
                return
            (self.lists / "partial").mkdir(parents=True, exist_ok=True)
            (self.cache / "archives" / "partial").mkdir(parents=True,
                                                        exist_ok=True)
            (self.root / "status").touch()
            if self.sources is not None:
                (self.root / "empty.d").mkdir(exist_ok=True)
                text = "".join(f"{line}\n" for line in self.sources)
                sources = self.root / "sources.list"
                if not sources.is_file() or sources.read_text() != text:
                    sources.write_text(text)
            proc = self._run("apt-get", "-q", "update", check=False)
            if proc.returncode != 0:
                if not self._index_files():
                    raise AptError(f"apt-get update for {self.arch} "
                                   f"loaded no index: "
                                   f"{proc.stderr.strip()}")
                LOG.warning("apt-get update for %s partly failed, using "
                            "the indexes that loaded (retrying in an hour "
                            "at the latest): %s", self.arch,
                            proc.stderr.strip())
                stamp = time.time() - INDEX_MAX_AGE + RETRY_PARTIAL
            else:
                stamp = time.time()
            (self.root / "updated").touch()
            os.utime(self.root / "updated", (stamp, stamp))

    def show(self, package: str, version: str | None = None) -> PackageInfo:
        """The index record of ``package`` (candidate or given version)."""
        self.update()
        spec = f"{package}={version}" if version else package
        proc = self._run("apt-cache", "show", "--no-all-versions", spec,
                         check=False)
        records = [r for r in parse_records(proc.stdout)
                   if r.get("Package") == package]
        if proc.returncode != 0 or not records:
            available = None
            if version:
                try:
                    available = self.show(package).version
                except PackageNotInIndex:
                    pass
            what = f"{package} {version}" if version else package
            raise PackageNotInIndex(
                f"{what} is not in the Debian index for {self.arch}"
                + (f" (available: {available})" if available else ""),
                available=available)
        rec = records[0]
        return PackageInfo(name=rec["Package"], version=rec["Version"],
                           arch=rec.get("Architecture", self.arch),
                           sha256=rec.get("SHA256", ""),
                           filename=rec.get("Filename", ""),
                           size=int(rec.get("Size", "0")),
                           depends=rec.get("Depends", ""))

    def closure(self, packages: Sequence[str],
                release: str | None = None) -> list[tuple[str, str]]:
        """(name, version) of ``packages`` and everything they depend on.

        Resolved against an empty dpkg status, so the closure is complete
        (C library included) and does not depend on what this machine has
        installed. ``release`` is apt's target release (``-t``), e.g.
        ``bookworm-backports``. Recommends are left out.
        """
        self.update()
        args = ["-s", "-q", "-oAPT::Install-Recommends=false"]
        if release:
            args += ["-t", release]
        proc = self._run("apt-get", *args, "install", *packages,
                         check=False)
        if proc.returncode != 0:
            raise AptError(f"cannot resolve {' '.join(packages)} for "
                           f"{self.arch}"
                           + (f" from {release}" if release else "")
                           + f": {(proc.stdout + proc.stderr).strip()[-2000:]}")
        found = re.findall(r"^Inst (\S+) \((\S+) ", proc.stdout, re.M)
        if not found:
            raise AptError(f"apt-get resolved nothing for "
                           f"{' '.join(packages)}: {proc.stdout.strip()}")
        return sorted(found)

    def show_many(self, pairs: Sequence[tuple[str, str]]
                  ) -> list[PackageInfo]:
        """The index records of exact (name, version) pairs, in order.

        :raises PackageNotInIndex: naming every pair the index lacks.
        """
        self.update()
        proc = self._run("apt-cache", "show", "--no-all-versions",
                         *(f"{name}={version}" for name, version in pairs),
                         check=False)
        records = {(r.get("Package"), r.get("Version")): r
                   for r in parse_records(proc.stdout)}
        missing = [f"{name} {version}" for name, version in pairs
                   if (name, version) not in records]
        if missing:
            raise PackageNotInIndex(
                f"not in the Debian index for {self.arch}: "
                f"{', '.join(missing)}")
        infos = []
        for name, version in pairs:
            rec = records[(name, version)]
            infos.append(PackageInfo(
                name=name, version=version,
                arch=rec.get("Architecture", self.arch),
                sha256=rec.get("SHA256", ""),
                filename=rec.get("Filename", ""),
                size=int(rec.get("Size", "0")),
                depends=rec.get("Depends", "")))
        return infos

    def resolve(self, package: str,
                follow: str | None = r"^linux-image-\d") -> PackageInfo:
        """Resolve a metapackage to the package its Depends names.

        ``follow`` is a regular expression; the first dependency whose
        name matches it is resolved instead of ``package``.
        """
        info = self.show(package)
        if follow:
            for dep in depends_names(info.depends):
                if re.search(follow, dep):
                    LOG.debug("%s depends on %s", package, dep)
                    return self.show(dep)
        return info

    def download(self, info: PackageInfo, dest: Path,
                 progress: Progress | None = None) -> Path:
        """Download ``info`` into ``dest`` (atomically), checked by sha256.

        ``progress(done, total)`` is called a few times a second while
        apt-get downloads (by watching the file grow).
        """
        return self.download_many([info], dest, progress)[0]

    def download_many(self, infos: Sequence[PackageInfo], dest: Path,
                      progress: Progress | None = None) -> list[Path]:
        """Download several packages with one apt-get call, each checked
        by sha256 and moved into ``dest`` only when it matches."""
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        tmpdir = Path(tempfile.mkdtemp(prefix=".tmp-", dir=dest))
        total = sum(info.size for info in infos)
        done = threading.Event()
        watcher = None
        if progress:
            watcher = threading.Thread(target=_watch, daemon=True,
                                       args=(tmpdir, total, progress, done))
            watcher.start()
        try:
            self._run("apt-get", "-q", "download",
                      *(f"{i.name}={i.version}" for i in infos), cwd=tmpdir)
            paths = []
            for info in infos:
                got = tmpdir / info.deb_name
                if not got.is_file():
                    raise AptError(f"apt-get download did not produce "
                                   f"{info.deb_name}")
                actual = sha256_file(got)
                if info.sha256 and actual != info.sha256:
                    raise AptError(f"{got.name}: sha256 {actual} does not "
                                   f"match the index's {info.sha256}")
                os.replace(got, dest / info.deb_name)
                paths.append(dest / info.deb_name)
        finally:
            done.set()
            if watcher:
                watcher.join()
            shutil.rmtree(tmpdir, ignore_errors=True)
        if progress:
            progress(total, total)
        return paths


def _watch(tmpdir: Path, total: int, progress: Progress,
           done: threading.Event) -> None:
    """Report the growing size of the files in ``tmpdir``."""
    while not done.wait(0.2):
        size = 0
        for path in tmpdir.glob("*"):
            try:
                size += path.stat().st_size
            except OSError:
                pass
        progress(min(size, total), total)


def extract(deb: Path, dest: Path) -> Path:
    """Extract ``deb`` into ``dest`` atomically (``dpkg-deb -x``).

    The tree appears at ``dest`` only once fully extracted.
    """
    dest = Path(dest)
    if dest.is_dir():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=dest.parent))
    try:
        proc = subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp)],
                              text=True, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, check=False)
        if proc.returncode != 0:
            raise AptError(f"dpkg-deb -x {deb} failed: "
                           f"{proc.stderr.strip()}")
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return dest
