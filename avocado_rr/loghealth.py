"""Is a replay log being written, and was it written whole?

A recording whose log cannot be trusted must never be replayed: its
replay would look like a divergence.  While QEMU records,
:class:`LogWatch` says when to give up (the log ran away, or its file
system filled up); after it, :func:`log_write_problem` says why the log
may be incomplete and :func:`log_complete` whether it adds up anyway.
:func:`describe_log` tells what a (possibly unfinished) log holds, for a
verdict.
"""

from __future__ import annotations

import os
import signal

from avocado_rr import replaylog

#: A recording whose log grows past this before its pattern is runaway
MAX_LOG_BYTES = 1 << 30
#: what QEMU (7.2 and later) prints, once, when a write to the replay log
#: fails; it then records on, writing nothing more to the log
LOG_WRITE_ERROR = "replay write error"
#: a file system with less free space than this is full
LOW_SPACE_BYTES = 64 << 10


class LogWatch:
    """Watches a log while QEMU writes it."""

    def __init__(self, rrfile: str, max_log_bytes: int = MAX_LOG_BYTES):
        self.rrfile = rrfile
        self.max_log_bytes = max_log_bytes

    def problem(self) -> str | None:
        """Why the recording should stop now, or None."""
        if free_space(self.rrfile) < LOW_SPACE_BYTES:
            # the console is on the log's disk: once it is full, the
            # pattern can no longer come
            return log_write_problem(self.rrfile, "", None)
        try:
            size = os.path.getsize(self.rrfile)
        except OSError:
            return None
        if size > self.max_log_bytes:
            return (f"runaway recording: the log grew past "
                    f"{self.max_log_bytes >> 20} MiB")
        return None


def log_write_problem(rrfile: str, stderr: str,
                      exitcode: int | None) -> str | None:
    """Why the log may be incomplete: a full disk, a write error, a file
    size limit; None when nothing says so."""
    if exitcode == -signal.SIGXFSZ:
        return (f"QEMU was killed by SIGXFSZ: {rrfile} reached the file "
                f"size limit (ulimit -f)")
    free = free_space(rrfile)
    if free < LOW_SPACE_BYTES:
        size = os.statvfs(os.path.dirname(rrfile))
        return (f"no space left on the file system of {rrfile} "
                f"({free} bytes free of {size.f_blocks * size.f_frsize})")
    if LOG_WRITE_ERROR in stderr:
        return (f"QEMU could not write the replay log {rrfile} "
                f"({LOG_WRITE_ERROR!r}: its file system is full or the "
                f"file size limit, ulimit -f, was reached)")
    return None


def free_space(rrfile: str) -> float:
    """Bytes QEMU may still write beside ``rrfile`` (inf if unknown)."""
    try:
        fs = os.statvfs(os.path.dirname(rrfile))
    except OSError:
        return float("inf")
    # root may write into the blocks reserved for it
    blocks = fs.f_bfree if os.geteuid() == 0 else fs.f_bavail
    return blocks * fs.f_frsize


def log_complete(rrfile: str, final_icount: int) -> bool:
    """The log ends cleanly and adds up to the recording's icount."""
    try:
        log = replaylog.summarize(rrfile)
    except replaylog.ReplayLogError:
        return False
    return log.clean_end and log.icount == final_icount


def describe_log(rrfile: str) -> str:
    """What a (possibly unfinished) log is made of, for a verdict."""
    try:
        summary = replaylog.summarize(rrfile)
    except replaylog.ReplayLogError as details:
        summary = details.partial
    if summary is None:
        return "the log can't be read"
    top = sorted(summary.counts.items(), key=lambda kv: -kv[1])[:3]
    kinds = ", ".join(f"{name} x{count}" for name, count in top)
    return (f"{summary.events} events up to icount {summary.icount}, "
            f"most of them {kinds}")
