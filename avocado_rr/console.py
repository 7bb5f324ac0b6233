"""Watch a guest serial console that QEMU writes to a file.

QEMU writes the console through a ``file`` chardev: a regular file never
applies back-pressure, so the console can't make a recording short-write
(the cause of "Missing character write event" with pipes, QEMU issue
#2010).  :class:`ConsoleWatcher` follows the file and matches lines
against success and failure patterns.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Callable, Iterable, Pattern

#: Console lines that mean the boot failed, whatever the test waits for.
DEFAULT_FAILURE_PATTERNS = (
    "Kernel panic - not syncing",
    "BUG: kernel NULL pointer dereference",
    "Oops: ",
)


class MatchKind(StrEnum):
    """How a wait on a console ended (a member is its string)."""

    SUCCESS = "success"
    FAILURE = "failure"
    #: QEMU ended first
    EXITED = "exited"
    TIMEOUT = "timeout"
    #: the caller's ``stop`` gave a reason to end the wait (a runaway
    #: log, a full disk)
    STOPPED = "stopped"


@dataclass
class ConsoleMatch:
    """The outcome of waiting on a console."""

    kind: MatchKind
    #: the pattern that matched, for success and failure
    pattern: str | None = None
    #: the console line that matched
    line: str | None = None
    #: bytes of console output consumed when the wait ended
    offset: int = 0
    #: why the wait was stopped (``stopped``)
    reason: str | None = None


def _compile(patterns: Iterable[str | Pattern]) -> list[tuple[str, Pattern]]:
    """(text as given, regular expression) for each pattern."""
    return [(p.pattern, p) if isinstance(p, re.Pattern)
            else (p, re.compile(re.escape(p))) for p in patterns]


class ConsoleWatcher:
    """Follow a console file and wait for patterns in complete lines.

    Plain strings match as substrings; compiled regular expressions are
    searched.  A pattern only matches a complete line (terminated by
    ``\\n``), unless the process has ended, then the tail counts too.
    """

    def __init__(self, path: str | os.PathLike, poll_interval: float = 0.05):
        self.path = os.fspath(path)
        self.poll_interval = poll_interval
        self._offset = 0
        self._pending = b""

    @property
    def text(self) -> str:
        """Everything written to the console so far."""
        return read_transcript(self.path).decode("utf-8", "replace")

    def _new_lines(self, final: bool) -> list[tuple[str, int]]:
        try:
            with open(self.path, "rb") as console:
                console.seek(self._offset)
                data = console.read()
        except FileNotFoundError:
            return []
        self._offset += len(data)
        self._pending += data
        lines = []
        consumed = self._offset - len(self._pending)
        while b"\n" in self._pending:
            line, self._pending = self._pending.split(b"\n", 1)
            consumed += len(line) + 1
            lines.append((line.decode("utf-8", "replace"), consumed))
        if final and self._pending:
            lines.append((self._pending.decode("utf-8", "replace"),
                          self._offset))
            self._pending = b""
        return lines

    def wait(self, success: Iterable[str | Pattern],
             failure: Iterable[str | Pattern] = DEFAULT_FAILURE_PATTERNS,
             timeout: float | None = None,
             alive: Callable[[], bool] = lambda: True,
             stop: Callable[[], str | None] = lambda: None) -> ConsoleMatch:
        """Wait until a success or failure pattern appears in a line.

        The wait can be resumed: a second call goes on from the first
        line the previous one did not match.

        :param alive: returns False once the producer (QEMU) has exited;
                      the wait then reads what is left and returns
                      ``"exited"`` if nothing matched.
        :param stop: returns a reason to give up waiting (``"stopped"``),
                     or None
        """
        success_re = _compile(success)
        failure_re = _compile(failure)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            running = alive()
            for line, end in self._new_lines(final=not running):
                for text, regex in failure_re:
                    if regex.search(line):
                        return ConsoleMatch(MatchKind.FAILURE, text, line, end)
                for text, regex in success_re:
                    if regex.search(line):
                        return ConsoleMatch(MatchKind.SUCCESS, text, line, end)
            if not running:
                return ConsoleMatch(MatchKind.EXITED, offset=self._offset)
            reason = stop()
            if reason is not None:
                return ConsoleMatch(MatchKind.STOPPED, offset=self._offset,
                                    reason=reason)
            if deadline is not None and time.monotonic() >= deadline:
                return ConsoleMatch(MatchKind.TIMEOUT, offset=self._offset)
            time.sleep(self.poll_interval)


def read_transcript(path: str | os.PathLike) -> bytes:
    """The raw bytes of a console file ('' if QEMU never created it)."""
    try:
        with open(path, "rb") as console:
            return console.read()
    except FileNotFoundError:
        return b""
