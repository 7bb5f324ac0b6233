"""What avocado_rr.gdb does to pygdbmi."""

import pprint

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


class _Controller:
    """pygdbmi's GdbController as the Gdb class uses it: ``write`` and
    ``get_gdb_response`` hand out the MI records a real gdb-multiarch 13
    printed for a stepi on s390x (tests/unit only: the real thing is in
    tests/avocado/reverse_debugging.py:S390xCcwVirtio)."""

    def __init__(self, thread_state):
        self.thread_state = thread_state
        self.pending = []

    def write(self, command, timeout_sec, raise_error_on_timeout):
        if command == "-thread-info":
            return [{"type": "result", "message": "done", "payload": {
                "threads": [{"id": "1", "state": self.thread_state}]}}]
        return [{"type": "result", "message": "running", "payload": None},
                {"type": "notify", "message": "running",
                 "payload": {"thread-id": "all"}},
                {"type": "log", "message": None,
                 "payload": "PC not saved\n"}]

    def get_gdb_response(self, timeout_sec, raise_error_on_timeout):
        return []


def _gdb(controller):
    debugger = gdb.Gdb.__new__(gdb.Gdb)
    debugger._gdb = controller
    debugger.timeout = 2.0
    debugger.log = None
    return debugger


def test_a_stop_gdb_could_not_describe_is_a_stop():
    """s390x without symbols: gdb logs "PC not saved" instead of a
    *stopped record, and its thread is stopped."""
    payload = _gdb(_Controller("stopped")).stepi()
    assert payload == {"reason": "stopped-with-error",
                       "gdb-log": "PC not saved"}


def test_a_log_line_while_running_is_not_a_stop():
    with pytest.raises(gdb.GdbError, match="did not stop"):
        _gdb(_Controller("running")).run("-exec-continue", timeout=1.5)
