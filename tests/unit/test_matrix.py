"""The QEMU version matrix: variants file, case x version table, SVG."""

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from avocado_rr import matrix
from avocado_rr.plugins import summary

WHITEBOARD = json.loads((Path(__file__).parent / "fixtures" / "plugins"
                         / "x86_64-microvm.whiteboard.json").read_text())


def _state(uid, variant, version_line, status="PASS", verdict="pass",
           record=7.0, replay=13.5):
    data = dict(WHITEBOARD, qemu_version=version_line, verdict=verdict,
                record_time=record, replay_time=replay)
    return {"name": f"{uid}-tests/avocado/replay_kernel.py:X86_64Microvm."
                    f"test_record_replay;{variant}",
            "status": status, "whiteboard": json.dumps(data),
            "time_elapsed": 21.0, "logdir": None, "tags": {}}


def test_variants_are_a_mux_file_of_the_versions():
    doc = yaml.safe_load(matrix.variants_yaml(["7.2", "11.1"])
                         .replace("!mux", ""))
    assert doc == {"qemu": {"qemu-7.2": {"qemu_version": "7.2"},
                            "qemu-11.1": {"qemu_version": "11.1"}}}
    with pytest.raises(ValueError):
        matrix.variants_yaml(["11.1; rm -rf /"])


def test_one_version_makes_no_matrix():
    doc = summary.summary("job", [_state(1, "qemu-7.2-ab",
                                         "QEMU emulator version 7.2.0")])
    assert "matrix" not in doc


def test_cases_by_version_with_verdicts_and_times():
    states = [
        _state(1, "qemu-7.2-ab", "QEMU emulator version 7.2.0 (Debian "
               "1:7.2+dfsg-7+deb12u18+b3)", record=7.0, replay=13.0),
        _state(2, "qemu-11.1-cd", "QEMU emulator version 11.1.3 (Debian "
               "1:11.1.3+ds-2~bpo13+1)", status="WARN", verdict="stalled",
               record=6.0, replay=30.0),
    ]
    doc = summary.summary("job", states)
    grid = doc["matrix"]
    assert grid["versions"] == ["7.2.0", "11.1.3"]
    case = "X86_64Microvm.test_record_replay [x86_64 microvm]"
    assert grid["cases"] == [case]
    assert grid["cells"][case]["11.1.3"]["verdict"] == "stalled"
    lines = matrix.table_lines(grid)
    assert lines[0].split() == ["CASE", "QEMU", "7.2.0", "QEMU", "11.1.3"]
    assert "pass/PASS 7.0+13.0s" in lines[1]
    assert "stalled/WARN 6.0+30.0s" in lines[1]
    root = ET.fromstring(matrix.svg(grid))
    fills = [rect.get("fill") for rect in root.iter(
        "{http://www.w3.org/2000/svg}rect") if rect.get("class") == "cell"]
    assert fills == [matrix.COLOURS["pass"], matrix.COLOURS["known"]]
    json.dumps(doc)


def test_a_case_missing_on_a_version_is_an_empty_cell():
    states = [_state(1, "qemu-7.2-ab", "QEMU emulator version 7.2.0"),
              _state(2, "qemu-10.0-ef", "QEMU emulator version 10.0.2")]
    states[1]["name"] = states[1]["name"].replace("X86_64Microvm",
                                                  "Other")
    grid = matrix.build(summary.test_row(s) for s in states)
    assert len(grid["cases"]) == 2
    assert matrix.table_lines(grid)[1].rstrip().endswith("-")
