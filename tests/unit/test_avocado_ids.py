"""One parser of Avocado test ids, and its three users' views of them."""

import sys
from pathlib import Path

import pytest

from avocado_rr import matrix
from avocado_rr.avocado_ids import AvocadoTestId, parse_test_id
from avocado_rr.plugins import summary

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import soak  # noqa: E402

FULL = ("03-tests/avocado/replay_kernel.py:X86_64Pc.test_record_replay;"
        "run-icount_shift-shift-3-e6b2")


@pytest.mark.parametrize("text,parts", [
    (FULL, AvocadoTestId("03", "tests/avocado/replay_kernel.py",
                         "X86_64Pc.test_record_replay",
                         "run-icount_shift-shift-3-e6b2")),
    ("1-tests/replay-linux.py:I386Pc.test_disk_net_iso",
     AvocadoTestId("1", "tests/replay-linux.py", "I386Pc.test_disk_net_iso")),
    ("tests/x.py:C.test", AvocadoTestId(None, "tests/x.py", "C.test")),
    ("C.test;v", AvocadoTestId(None, None, "C.test", "v")),
    ("C.test", AvocadoTestId(None, None, "C.test")),
])
def test_parts(text, parts):
    assert parse_test_id(text) == parts


def test_the_three_views_of_one_id():
    assert summary.short_name(FULL) == \
        "03-X86_64Pc.test_record_replay;run-icount_shift-shift-3-e6b2"
    assert matrix.case_of({"test": FULL}) == "X86_64Pc.test_record_replay"
    assert soak.case_name(FULL) == \
        "X86_64Pc.test_record_replay;run-icount_shift-shift-3-e6b2"
    plain = FULL.split(";")[0]
    assert soak.case_name(plain) == "X86_64Pc"
    assert summary.short_name("tests/x.py:C.t") == "C.t"
