"""The core of a catalogue pinned by a lock file.

A provider of things fetched from Debian (the asset catalogue,
:class:`~avocado_rr.assets.Catalogue`, for kernels and friends; the QEMU
builds, :class:`~avocado_rr.qemu_builds.QemuBuilds`) reads a catalogue
that says *what* an entry is and a YAML lock that says *which build* it
was resolved to.  What every such provider does the same way is here, in
:class:`LockedCatalogue`:

* the update policy: the caller's ``update``, else the ``assets_update``
  setting (``AVOCADO_RR_ASSETS_UPDATE``);
* reading the lock, and writing it under a file lock, merged with what
  another process may have written meanwhile;
* fetching under the policy (:meth:`LockedCatalogue._fetch_locked`): an
  entry not locked yet is resolved now when updating and an error
  otherwise; a locked build that has left Debian's archive is resolved
  again when updating, loudly, and an error otherwise.

A provider subclasses it, describes its lock in a :class:`LockKind`
(section, entry type, command, errors) and supplies
:meth:`~LockedCatalogue.spec`, the resolving of one entry and the
fetching of a locked one.
"""

from __future__ import annotations

import abc
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar, Generic, Protocol, TypeVar

import yaml

from avocado_rr import settings
from avocado_rr.download import Progress, atomic_write, file_lock
from avocado_rr.errors import AvocadoRRError

#: libyaml's safe loader when PyYAML has it: every test reads the
#: catalogue and the lock, ~30 ms with the pure-Python loader, ~3 ms so
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: the environment variable of the update policy
UPDATE_ENV = settings.setting("assets_update").variable


class LockedEntry(Protocol):
    """What a lock records for one name: a YAML mapping and back."""

    @classmethod
    def from_dict(cls, name: str, data: dict) -> Any:
        """The entry of ``name`` from its mapping in the lock."""

    def to_dict(self) -> dict:
        """The entry's mapping in the lock."""


E = TypeVar("E", bound=LockedEntry)
T = TypeVar("T")


@dataclass(frozen=True)
class LockKind:
    """What one provider's lock is, and how it speaks of it."""

    #: the lock's top-level key; also names its file lock
    section: str
    #: the class of the lock's entries (a :class:`LockedEntry`)
    entry_type: type
    #: what messages call the lock, e.g. "asset lock"
    title: str
    #: the command that refreshes the lock
    command: str
    #: the root of the provider's errors
    error: type[AvocadoRRError]
    #: what a fetch raises when a locked build has left the archive
    gone: tuple[type[Exception], ...]
    #: where the update policy's warnings go
    log: logging.Logger


class LockedCatalogue(abc.ABC, Generic[E]):
    """A catalogue whose entries are pinned in a YAML lock file."""

    #: the provider's lock
    kind: ClassVar[LockKind]

    def __init__(self, lock_path: Path | None, cache: Path,
                 update: bool | None = None):
        self.lock_path = lock_path
        self.cache = cache
        if update is None:
            update = settings.get_bool("assets_update")
        self.update = update
        self._locked: dict[str, E] = self._read_lock()

    # -- what a provider supplies -----------------------------------------

    @abc.abstractmethod
    def spec(self, name: str) -> Any:
        """The catalogue entry of ``name``; raises for an unknown one."""

    @abc.abstractmethod
    def _lock_subject(self) -> str:
        """What the lock file's header says it resolves."""

    @abc.abstractmethod
    def _label(self, name: str) -> str:
        """How log lines name the entry, e.g. ``asset kernel-x86_64``."""

    @abc.abstractmethod
    def _relock(self, name: str, progress: Progress | None) -> E:
        """Resolve ``name`` to the archive's current build and lock it."""

    @abc.abstractmethod
    def _not_locked(self, name: str) -> Exception:
        """The error for fetching ``name`` unlocked, not updating."""

    def _gone_error(self, name: str, exc: Exception) -> Exception | None:
        """The error for a locked build of ``name`` that has left the
        archive, not updating (None: ``exc`` itself)."""
        return None

    # -- the lock ------------------------------------------------------------

    def locked(self, name: str) -> E | None:
        """The lock entry of ``name``, if any."""
        self.spec(name)
        return self._locked.get(str(name))

    def _read_lock(self) -> dict[str, E]:
        if not self.lock_path or not self.lock_path.exists():
            return {}
        try:
            data = yaml.load(self.lock_path.read_text("utf-8"),
                             Loader=YAML_LOADER) or {}
            entries = data.get(self.kind.section) or {}
            return {str(name): self.kind.entry_type.from_dict(str(name), entry)
                    for name, entry in entries.items()}
        except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
            raise self.kind.error(f"cannot read the {self.kind.title} "
                                  f"{self.lock_path}: {exc}") from exc

    def _write_lock(self) -> None:
        """Write the lock, merged with what another process may have
        written since it was read."""
        kind = self.kind
        if not self.lock_path:
            raise kind.error("this catalogue has no lock file path")
        mutex = self.cache / "locks" / f"{kind.section}-lock-file.lock"
        with file_lock(mutex):
            merged = {**self._read_lock(), **self._locked}
            self._locked = merged
            doc = {kind.section: {name: merged[name].to_dict()
                                  for name in sorted(merged)}}
            text = (f"# Resolved Debian packages of "
                    f"{self._lock_subject()}.\n# Generated by "
                    f"`{kind.command}`; do not edit.\n"
                    + yaml.safe_dump(doc, sort_keys=False))
            try:
                atomic_write(self.lock_path, text.encode("utf-8"))
            except OSError as exc:
                raise kind.error(f"cannot write the {kind.title} "
                                 f"{self.lock_path}: {exc}") from exc

    def _pin(self, entries: dict[str, E]) -> None:
        """Record newly resolved entries and rewrite the lock."""
        self._locked.update(entries)
        if entries:
            self._write_lock()

    # -- fetching under the update policy ----------------------------------

    def _fetch_locked(self, name: str, materialise: Callable[[E], T],
                      progress: Progress | None = None) -> T:
        """``materialise`` the lock entry of ``name``, as the policy says.

        Not locked: resolved and locked now when updating, else the
        provider's not-locked error.  Locked but gone from the archive
        (one of the kind's ``gone`` errors): resolved again and the lock
        rewritten when updating, else the provider's error.
        """
        entry = self.locked(name)
        if entry is None:
            if not self.update:
                raise self._not_locked(name)
            self.kind.log.warning("%s is not locked; resolving it now (%s "
                                  "set)", self._label(name), UPDATE_ENV)
            entry = self._relock(name, progress)
        try:
            return materialise(entry)
        except self.kind.gone as exc:
            if not self.update:
                error = self._gone_error(name, exc)
                if error is None:
                    raise
                raise error from exc
            self.kind.log.warning("!!! %s: %s -- %s is set: re-resolving "
                                  "and rewriting %s", self._label(name), exc,
                                  UPDATE_ENV, self.lock_path)
            return materialise(self._relock(name, progress))
