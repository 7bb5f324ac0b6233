"""Drive Debian's ``gdb-multiarch`` over GDB/MI (``pygdbmi``).

:class:`Gdb` starts gdb, attaches it to a QEMU gdbstub and runs the
commands reverse debugging needs (``stepi``, ``reverse-stepi``,
``continue``, ``reverse-continue``, breakpoints, watchpoints), each
waiting for gdb's ``*stopped`` record, and reads registers and memory.
Every gdb error, a command that never stops and a gdb that died are a
:class:`GdbError` naming the command.  The gdb process is killed on
:meth:`Gdb.close` (and when this process exits: it is a reaped child).
"""

from __future__ import annotations

import logging
import pprint
import re
import select
import shutil
import time
from typing import Any

from avocado_rr.errors import AvocadoRRError

LOG = logging.getLogger("avocado_rr.gdb")

#: the Debian package of the debugger
GDB_PACKAGE = "gdb-multiarch"
GDB = "gdb-multiarch"
#: gdb's answer when the stub refuses to read one register
_REFUSED = re.compile(r'Could not fetch register "([^"]+)"')


class GdbError(AvocadoRRError):
    """gdb refused a command, did not stop, or is gone."""


class _FormatWhenLogged:
    """``pprint.pformat`` deferred to when a log record is emitted."""

    def __init__(self, obj: Any):
        self.obj = obj

    def __str__(self) -> str:
        return pprint.pformat(self.obj)


def _defer_pygdbmi_formatting() -> None:
    """pygdbmi 0.11.0.0 formats every MI record it parses with
    ``pprint.pformat`` for a DEBUG message, logged or not: a quarter of
    the CPU time of a reverse-debugging run (1000 register sets of
    hundreds of registers).  Its module-level ``pformat`` becomes one
    that formats only when the message is emitted."""
    from pygdbmi import IoManager
    IoManager.pformat = _FormatWhenLogged


def find_gdb() -> str:
    """The path of gdb-multiarch; a clear error naming the package."""
    path = shutil.which(GDB)
    if path is None:
        raise GdbError(f"{GDB} is not installed: install the Debian package "
                       f"{GDB_PACKAGE} (make installs it as root: "
                       f"'make qemu')")
    return path


class Gdb:
    """One gdb-multiarch, attached to a QEMU gdbstub over TCP.

    :param architecture: gdb's name of the target (``set architecture``,
        :attr:`avocado_rr.targets.Target.gdb_arch`)
    :param timeout: seconds a command may take to answer or to stop
    :param settings: more gdb commands the target needs
        (:attr:`avocado_rr.targets.Target.gdb_settings`)
    """

    def __init__(self, architecture: str, timeout: float = 120.0,
                 log: logging.Logger | None = None,
                 endian: str = "little", settings: tuple[str, ...] = ()):
        from pygdbmi.gdbcontroller import GdbController
        # pygdbmi logs every MI record at DEBUG: megabytes a thousand steps
        logging.getLogger("pygdbmi").setLevel(logging.INFO)
        _defer_pygdbmi_formatting()
        self.architecture = architecture
        self.timeout = timeout
        self.log = log or LOG
        self._gdb = GdbController([find_gdb(), "--nx", "--quiet",
                                   "--interpreter=mi3"])
        self.cli("set pagination off")
        self.cli("set confirm off")
        self.cli(f"set architecture {architecture}")
        self.cli(f"set endian {endian}")
        for setting in settings:
            self.cli(setting)
        self._address_mask: int | None = None

    # -- talking --------------------------------------------------------
    def _send(self, command: str) -> None:
        try:
            self._gdb.write(command, read_response=False)
        except Exception as details:  # pylint: disable=broad-except
            # pygdbmi raises IOError, ValueError, BrokenPipeError...
            raise GdbError(f"gdb is gone ({command!r}): {details}") \
                from details

    def mi(self, command: str, timeout: float | None = None) -> list[dict]:
        """An MI command; its responses up to its result record.

        :raises GdbError: an ``^error`` result, or no result in time
        """
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        self._send(command)
        responses = self._more(min(timeout, 1.0))
        while not any(r.get("type") == "result" for r in responses):
            left = deadline - time.monotonic()
            if left <= 0:
                raise GdbError(f"gdb did not answer {command!r} within "
                               f"{timeout}s")
            responses += self._more(min(left, 1.0))
        for response in responses:
            if response.get("type") == "result" and \
                    response.get("message") == "error":
                message = (response.get("payload") or {}).get("msg")
                raise GdbError(f"gdb: {command!r}: {message}")
        return responses

    def _more(self, timeout: float) -> list[dict]:
        """The MI records gdb has printed, waiting up to ``timeout`` for
        the first.

        pygdbmi's own reading goes on until gdb has been quiet for a
        while (``time_to_check_for_additional_output_sec``): that wait,
        on every command, was most of a stepi.  The callers know which
        record ends a command (a result, a ``*stopped``), so this returns
        as soon as anything was read and they ask again."""
        io_manager = self._gdb.io_manager
        try:
            ready, _, _ = select.select(io_manager.read_list, [], [],
                                        timeout)
            if not ready:
                return []
            responses = self._gdb.get_gdb_response(
                timeout_sec=0, raise_error_on_timeout=False)
        except Exception as details:  # pylint: disable=broad-except
            raise GdbError(f"gdb is gone: {details}") from details
        if not responses and self._gdb.gdb_process.poll() is not None:
            raise GdbError(f"gdb is gone: it exited with "
                           f"{self._gdb.gdb_process.returncode}")
        return responses

    def cli(self, command: str, timeout: float | None = None) -> str:
        """A gdb console command; what gdb printed."""
        responses = self.mi(f"-interpreter-exec console {_quote(command)}",
                            timeout)
        return "".join(r.get("payload") or "" for r in responses
                       if r.get("type") in ("console", "log")
                       and isinstance(r.get("payload"), str))

    def run(self, command: str, timeout: float | None = None) -> dict:
        """An execution command (``-exec-step-instruction``...): wait for
        the target to stop; the ``*stopped`` record's payload."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        responses = self.mi(command, timeout)
        while True:
            for response in responses:
                if response.get("type") == "notify" and \
                        response.get("message") == "stopped":
                    return response.get("payload") or {}
            logged = [r.get("payload") for r in responses
                      if r.get("type") == "log"
                      and isinstance(r.get("payload"), str)]
            if logged and self._stopped():
                # gdb stopped the target but failed to describe where
                # (s390x without symbols: "PC not saved" as it unwinds
                # the stop's frame) and so emitted no *stopped record
                return {"reason": "stopped-with-error",
                        "gdb-log": "".join(logged).strip()}
            left = deadline - time.monotonic()
            if left <= 0:
                raise GdbError(f"the target did not stop after {command!r} "
                               f"within {timeout}s")
            responses = self._more(min(left, 1.0))

    def _stopped(self) -> bool:
        """Whether gdb sees every thread stopped (``-thread-info``)."""
        threads = _result(self.mi("-thread-info")).get("threads") or []
        return bool(threads) and all(t.get("state") == "stopped"
                                     for t in threads)

    # -- the target -----------------------------------------------------
    def connect(self, port: int, host: str = "127.0.0.1") -> None:
        """``target remote`` a gdbstub."""
        self.mi(f"-target-select remote {host}:{port}")

    def remote_features(self) -> set[str]:
        """What the stub said it supports (its ``qSupported`` reply)."""
        text = self.cli("maint packet qSupported")
        reply = text.split("received:", 1)[-1].strip().strip('"')
        return {feature.strip() for feature in reply.split(";") if feature}

    def stepi(self) -> dict:
        return self.run("-exec-step-instruction")

    def reverse_stepi(self) -> dict:
        return self.run("-exec-step-instruction --reverse")

    def cont(self) -> dict:
        return self.run("-exec-continue")

    def reverse_cont(self) -> dict:
        return self.run("-exec-continue --reverse")

    def break_at(self, address: int) -> int:
        """A breakpoint at ``address``; its number."""
        responses = self.mi(f"-break-insert *{address:#x}")
        return int(_result(responses)["bkpt"]["number"])

    def watch(self, address: int, size: int = 8) -> int:
        """A write watchpoint on ``size`` bytes at ``address``; its
        number."""
        kind = {1: "char", 2: "short", 4: "int", 8: "long long"}[size]
        responses = self.mi(f"-break-watch "
                            f"{_quote(f'*({kind} *){address:#x}')}")
        return int(_result(responses)["wpt"]["number"])

    def delete(self, number: int) -> None:
        self.mi(f"-break-delete {number}")

    def pc(self) -> int:
        return self.address("$pc")

    def address(self, expression: str) -> int:
        """An address-valued expression (``$pc``, ``$sp``), unsigned: gdb
        gives a 32-bit mips register as a negative number."""
        if self._address_mask is None:
            self._address_mask = (1 << 8 * self.evaluate(
                "sizeof(void *)")) - 1
        return self.evaluate(expression) & self._address_mask

    def evaluate(self, expression: str) -> int:
        value = _result(self.mi(f"-data-evaluate-expression "
                                f"{_quote(expression)}"))["value"]
        return int(value.split()[0], 0)

    def registers(self) -> dict[str, str]:
        """Every register gdb knows for the target and the stub gives, as
        hex text (a stub may refuse some: riscv's pmpcfg1 on QEMU 7.2)."""
        if not hasattr(self, "_numbers"):
            self._names = _result(self.mi(
                "-data-list-register-names"))["register-names"]
            self._numbers = [n for n, name in enumerate(self._names) if name]
        while True:
            try:
                values = _result(self.mi(
                    "-data-list-register-values x " +
                    " ".join(map(str, self._numbers))))
                break
            except GdbError as details:
                refused = _REFUSED.search(str(details))
                if refused is None or refused[1] not in self._names:
                    raise
                self.log.info("gdb: the stub gives no register %s: not "
                              "compared", refused[1])
                self._numbers.remove(self._names.index(refused[1]))
        return {self._names[int(item["number"])]: item["value"]
                for item in values["register-values"]}

    def read_memory(self, address: int, size: int) -> bytes:
        blocks = _result(self.mi(
            f"-data-read-memory-bytes {address:#x} {size}"))["memory"]
        return bytes.fromhex("".join(block["contents"] for block in blocks))

    def close(self) -> None:
        """Detach and end gdb (killed if it does not go)."""
        try:
            self._gdb.exit()
        except Exception as details:  # pylint: disable=broad-except
            self.log.debug("gdb exit: %s", details)

    def __enter__(self) -> "Gdb":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def _result(responses: list[dict]) -> dict[str, Any]:
    for response in responses:
        if response.get("type") == "result":
            return response.get("payload") or {}
    return {}


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
