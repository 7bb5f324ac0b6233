"""What avocado_rr.gdb does to pygdbmi."""

import pprint

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
