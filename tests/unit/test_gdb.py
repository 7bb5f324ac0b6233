"""What avocado_rr.gdb does to pygdbmi."""

import pprint
import shutil

import pytest

from avocado_rr import gdb


def test_pygdbmi_formats_a_record_only_when_it_is_logged(monkeypatch):
    from pygdbmi import IoManager
    monkeypatch.setattr(IoManager, "pformat", pprint.pformat)
    gdb._defer_pygdbmi_formatting()
    formatted = []

    class Watched(dict):
        def __repr__(self):
            formatted.append(True)
            return super().__repr__()

    record = Watched(type="result", message="done")
    message = IoManager.pformat(record)
    assert not formatted                 # nothing formatted yet
    assert str(message) == pprint.pformat(record)
    assert formatted                     # formatted when emitted


class _S390xGdb(gdb.Gdb):
    """A Gdb whose gdb prints, for a stepi, the MI records a real
    gdb-multiarch 13 printed on s390x (tests/unit only: the real thing is
    in tests/avocado/reverse_debugging.py:S390xCcwVirtio)."""

    def __init__(self, thread_state):   # pylint: disable=super-init-not-called
        self.thread_state = thread_state
        self.pending = []
        self.timeout = 2.0
        self.log = None

    def _send(self, command):
        if command == "-thread-info":
            self.pending += [{"type": "result", "message": "done",
                              "payload": {"threads": [
                                  {"id": "1", "state": self.thread_state}]}}]
            return
        self.pending += [{"type": "result", "message": "running",
                          "payload": None},
                         {"type": "notify", "message": "running",
                          "payload": {"thread-id": "all"}},
                         {"type": "log", "message": None,
                          "payload": "PC not saved\n"}]

    def _more(self, timeout):
        pending, self.pending = self.pending, []
        return pending


def test_a_stop_gdb_could_not_describe_is_a_stop():
    """s390x without symbols: gdb logs "PC not saved" instead of a
    *stopped record, and its thread is stopped."""
    payload = _S390xGdb("stopped").stepi()
    assert payload == {"reason": "stopped-with-error",
                       "gdb-log": "PC not saved"}


def test_a_log_line_while_running_is_not_a_stop():
    with pytest.raises(gdb.GdbError, match="did not stop"):
        _S390xGdb("running").run("-exec-continue", timeout=1.5)


@pytest.fixture
def real_gdb():
    if shutil.which(gdb.GDB) is None:
        pytest.fail(f"{gdb.GDB} is missing: 'make qemu' installs "
                    f"{gdb.GDB_PACKAGE}")
    debugger = gdb.Gdb("i386:x86-64", timeout=60.0)
    yield debugger
    debugger.close()


def test_a_command_returns_its_result_and_nothing_after_it(real_gdb):
    """Each command gets its own result record, read as soon as gdb
    printed it: the records of one never leak into the next."""
    for expression, value in (("1+2", 3), ("6*7", 42), ("0x10", 16)):
        assert real_gdb.evaluate(expression) == value
    assert "GNU gdb" in real_gdb.cli("show version")
    with pytest.raises(gdb.GdbError, match="No symbol"):
        real_gdb.evaluate("no_such_symbol")
    assert real_gdb.evaluate("5") == 5


def test_a_gdb_that_died_is_gone_not_silent(real_gdb):
    """A dead gdb is named at once, not waited for until the timeout."""
    real_gdb._gdb.gdb_process.kill()
    real_gdb._gdb.gdb_process.wait()
    with pytest.raises(gdb.GdbError, match="gdb is gone"):
        real_gdb.mi("-gdb-version")


def test_a_32_bit_mips_address_is_unsigned():
    """gdb gives a 32-bit mips register as a negative number; a kernel
    symbol's address is unsigned."""
    debugger = gdb.Gdb("mips", timeout=60.0)
    try:
        debugger.cli("set $kernel_init = (int) 0x80b1768c")
        assert debugger.evaluate("$kernel_init") < 0
        assert debugger.address("$kernel_init") == 0x80b1768c
    finally:
        debugger.close()


def test_mips64_takes_the_n64_abi_from_the_target_table():
    """Without an ELF file gdb takes mips64 for o32: 32-bit addresses,
    and a 64-bit kernel's breakpoints are never hit."""
    from avocado_rr import targets
    row = targets.target("mips64el")
    debugger = gdb.Gdb(row.gdb_arch, timeout=60.0, endian=row.endian,
                       settings=row.gdb_settings)
    try:
        assert debugger.evaluate("sizeof(void *)") == 8
        debugger.cli("set $kernel_init = (long) 0xffffffff80b4a138")
        assert debugger.address("$kernel_init") == 0xffffffff80b4a138
    finally:
        debugger.close()
    o32 = gdb.Gdb(row.gdb_arch, timeout=60.0, endian=row.endian)
    try:
        assert o32.evaluate("sizeof(void *)") == 4
    finally:
        o32.close()
