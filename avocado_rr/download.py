"""Getting files safely: hashing, inter-process locks and a URL source.

The URL source streams with ``requests`` into a ``.part`` file next to
the destination, resumes an interrupted download with an HTTP Range
request, checks the sha256 (which is mandatory) and only then renames
the file into place.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

from avocado_rr.errors import AvocadoRRError, Sha256Mismatch

if TYPE_CHECKING:
    import requests

#: ``progress(done_bytes, total_bytes_or_None)``
Progress = Callable[[int, "int | None"], None]

CHUNK = 1 << 16


class DownloadError(AvocadoRRError):
    """A URL could not be fetched or did not hash as expected."""


class ChecksumMismatch(DownloadError, Sha256Mismatch):
    """The downloaded bytes do not have the expected sha256."""


def atomic_write(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename,
    so that readers never see a partial file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file's content."""
    digest = hashlib.sha256()
    with open(path, "rb") as fobj:
        for block in iter(lambda: fobj.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive ``fcntl`` lock on ``path`` (created if needed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as fobj:
        fcntl.flock(fobj, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fobj, fcntl.LOCK_UN)


class StderrProgress:
    """A one-line progress display on stderr, at most a few times a second."""

    def __init__(self, label: str, stream=None):
        self.label = label
        self.stream = stream or sys.stderr
        self._last = 0.0

    def __call__(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        final = total is not None and done >= total
        if not final and now - self._last < 0.25:
            return
        self._last = now
        if total:
            pct = 100.0 * done / total
            text = (f"\r{self.label}: {done / 1e6:7.1f} / "
                    f"{total / 1e6:.1f} MB {pct:5.1f}%")
        else:
            text = f"\r{self.label}: {done / 1e6:7.1f} MB"
        self.stream.write(text)
        if final:
            self.stream.write("\n")
        self.stream.flush()


def fetch_url(url: str, dest: Path, sha256: str,
              progress: Progress | None = None,
              timeout: float = 30.0,
              session: requests.Session | None = None) -> Path:
    """Download ``url`` to ``dest``, resuming a ``dest.part`` left over.

    :raises ValueError: when ``sha256`` is empty
    :raises ChecksumMismatch: when the complete file hashes differently;
        the bytes are kept aside as ``dest.rejected`` and ``dest`` is
        left untouched
    :raises DownloadError: on HTTP or connection errors
    """
    # imported here: every test imports this module, few download (and
    # importing requests costs each test process ~0.1 s)
    import requests

    if not sha256:
        raise ValueError(f"refusing to download {url} without a sha256")
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    http = session or requests.Session()
    with file_lock(dest.with_name(dest.name + ".lock")):
        if dest.exists() and sha256_file(dest) == sha256:
            return dest
        offset = part.stat().st_size if part.exists() else 0
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        try:
            resp = http.get(url, stream=True, headers=headers,
                            timeout=timeout)
        except requests.RequestException as exc:
            raise DownloadError(f"cannot fetch {url}: {exc}") from exc
        with resp:
            if resp.status_code == 416 and offset:
                # the .part is already complete (or bogus): check it below
                total = offset
            elif resp.status_code in (200, 206):
                if resp.status_code == 200 and offset:
                    offset = 0          # the server ignored the Range
                length = resp.headers.get("Content-Length")
                total = offset + int(length) if length else None
                _stream_to(resp, part, offset, total, progress, url)
            else:
                raise DownloadError(f"cannot fetch {url}: HTTP "
                                    f"{resp.status_code} {resp.reason}")
        actual = sha256_file(part)
        if actual != sha256:
            rejected = dest.with_name(dest.name + ".rejected")
            os.replace(part, rejected)
            raise ChecksumMismatch(
                f"{url}: sha256 {actual} does not match the expected "
                f"{sha256}; the download is kept as {rejected}",
                expected=sha256, actual=actual)
        os.replace(part, dest)
    return dest


def _stream_to(resp: requests.Response, part: Path, offset: int,
               total: int | None, progress: Progress | None,
               url: str) -> None:
    import requests

    done = offset
    try:
        with open(part, "r+b" if offset else "wb") as fobj:
            fobj.seek(offset)
            fobj.truncate()
            for chunk in resp.iter_content(CHUNK):
                fobj.write(chunk)
                done += len(chunk)
                if progress:
                    progress(done, total)
    except requests.RequestException as exc:
        raise DownloadError(f"download of {url} interrupted at {done} "
                            f"bytes ({exc}); run again to resume") from exc
    if total is not None and done < total:
        raise DownloadError(f"download of {url} interrupted at {done} of "
                            f"{total} bytes; run again to resume")
    if progress:
        progress(done, done if total is None else total)
