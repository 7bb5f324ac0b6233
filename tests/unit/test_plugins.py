"""The Avocado plugins' logic: settings export, summary rows, table, SVG."""

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace

import pytest

from avocado_rr import settings as rr_settings
from avocado_rr.plugins import init, summary
from avocado_rr.plugins.jobprepost import ReplayJobPrePost, environment_for

FIXTURES = Path(__file__).parent / "fixtures" / "plugins"
WHITEBOARD = (FIXTURES / "x86_64-microvm.whiteboard.json").read_text()
SVG = "{http://www.w3.org/2000/svg}"


def test_the_plugin_registers_the_settings_registry():
    assert init.SETTINGS == tuple(item for item in rr_settings.SETTINGS
                                  if item.avocado)
    assert {item.key for item in init.SETTINGS} >= {
        "qemu_bin", "qemu_build_dir", "qemu_version", "offline"}
    for item in rr_settings.SETTINGS:
        assert item.variable == "AVOCADO_RR_" + item.key.upper()


@pytest.mark.parametrize("text,expected", [
    ("1", True), ("yes", True), ("TRUE", True), ("on", True),
    ("0", False), ("no", False), ("False", False), ("off", False),
    ("", False)])
def test_one_rule_for_booleans(monkeypatch, text, expected):
    assert rr_settings.parse_bool(text) is expected
    monkeypatch.setenv("AVOCADO_RR_OFFLINE", text)
    monkeypatch.setenv("AVOCADO_RR_ASSETS_UPDATE", text)
    assert rr_settings.get_bool("offline") is expected
    from avocado_rr import assets
    assert assets.Catalogue({}, None, None).update is expected


@pytest.mark.parametrize("raw,kind,expected", [
    ("5", int, 5), (5, int, 5), (5.0, int, 5), (" 7 ", int, 7),
    ("2.5", float, 2.5), (3, float, 3.0), ("on", bool, True),
    (False, bool, False), (11.1, str, "11.1")])
def test_cast_is_the_one_conversion(raw, kind, expected):
    assert rr_settings.cast(raw, kind) == expected
    assert type(rr_settings.cast(raw, kind)) is kind


@pytest.mark.parametrize("raw,kind,message", [
    ("seven", int, "'seven' is not an integer"),
    (5.5, int, "5.5 is not an integer"),
    (True, int, "True is not an integer"),
    ("", float, "'' is not a number"),
    ("maybe", bool, "'maybe' is not a boolean")])
def test_cast_says_what_a_value_is_not(raw, kind, message):
    with pytest.raises(ValueError, match=message):
        rr_settings.cast(raw, kind)


def test_a_bad_setting_names_its_variable(monkeypatch):
    monkeypatch.setenv("AVOCADO_RR_KEEP_ARTIFACTS", "maybe")
    with pytest.raises(ValueError, match="AVOCADO_RR_KEEP_ARTIFACTS"):
        rr_settings.get_bool("keep_artifacts")
    monkeypatch.setenv("AVOCADO_RR_ICOUNT_SHIFT", "seven")
    with pytest.raises(ValueError, match="AVOCADO_RR_ICOUNT_SHIFT"):
        rr_settings.value("icount_shift")
    monkeypatch.setenv("AVOCADO_RR_ICOUNT_SHIFT", "9")
    assert rr_settings.value("icount_shift") == 9


def test_environment_for_exports_only_what_is_set(tmp_path):
    config = {"replay.icount_shift": 5, "replay.keep_artifacts": True,
              "replay.offline": False, "replay.qemu_bin": None,
              "replay.cache_dir": str(tmp_path / "cache"),
              "replay.stall_timeout": "2.5"}
    env = environment_for(config)
    assert env == {"AVOCADO_RR_ICOUNT_SHIFT": "5",
                   "AVOCADO_RR_KEEP_ARTIFACTS": "1",
                   "AVOCADO_RR_CACHE_DIR": str(tmp_path / "cache"),
                   "AVOCADO_RR_STALL_TIMEOUT": "2.5"}


def test_environment_for_makes_paths_absolute(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    env = environment_for({"replay.qemu_build_dir": "qemu/build"})
    assert env["AVOCADO_RR_QEMU_BUILD_DIR"] == str(tmp_path / "qemu/build")


def test_environment_for_rejects_a_bad_number():
    with pytest.raises(ValueError):
        environment_for({"replay.icount_shift": "seven"})


def test_jobprepost_sets_then_restores_the_environment(monkeypatch):
    monkeypatch.setenv("AVOCADO_RR_ICOUNT_SHIFT", "3")
    monkeypatch.delenv("AVOCADO_RR_OFFLINE", raising=False)
    job = SimpleNamespace(config={"replay.icount_shift": 9,
                                  "replay.offline": True})
    plugin = ReplayJobPrePost()
    plugin.pre(job)
    assert os.environ["AVOCADO_RR_ICOUNT_SHIFT"] == "9"
    assert rr_settings.get("icount_shift") == "9"
    assert rr_settings.get_bool("offline")
    plugin.post(job)
    assert os.environ["AVOCADO_RR_ICOUNT_SHIFT"] == "3"
    assert "AVOCADO_RR_OFFLINE" not in os.environ


def _state(**extra):
    state = {"name": "1-tests/avocado/replay_kernel.py:X86_64Microvm."
                     "test_record_replay",
             "status": "PASS", "time_elapsed": 12.1,
             "tags": {"arch": {"x86_64"}, "machine": {"microvm"}},
             "whiteboard": WHITEBOARD, "logdir": None}
    state.update(extra)
    return state


def test_row_from_a_real_whiteboard():
    verdict = json.loads(WHITEBOARD)
    row = summary.test_row(_state())
    assert row["verdict"] == verdict["verdict"]
    assert row["icount"] == verdict["recorded_icount"]
    assert row["events"] == verdict["log_events"]
    assert row["log_size"] == verdict["log_size"]
    assert row["record_time"] == verdict["record_time"]
    assert row["overhead"] == verdict["overhead"]
    assert (row["arch"], row["machine"]) == ("x86_64", "microvm")


def test_row_falls_back_to_verdict_json(tmp_path):
    verdict = json.loads(WHITEBOARD)
    del verdict["overhead"]
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "verdict.json").write_text(json.dumps(verdict))
    row = summary.test_row(_state(whiteboard="", logdir=str(tmp_path)))
    assert row["icount"] == verdict["recorded_icount"]
    assert row["overhead"] == pytest.approx(
        verdict["replay_time"] / verdict["record_time"])


def test_row_of_a_test_without_verdict_uses_its_tags(tmp_path):
    row = summary.test_row(_state(whiteboard="", logdir=str(tmp_path),
                                  status="ERROR"))
    assert row["verdict"] is None and row["icount"] is None
    assert (row["arch"], row["machine"], row["status"]) == \
        ("x86_64", "microvm", "ERROR")


def test_short_name_keeps_index_class_and_variant():
    assert summary.short_name("3-tests/a.py:C.test;run-x-1234") == \
        "3-C.test;run-x-1234"
    assert summary.short_name("C.test") == "C.test"


def test_table_is_aligned_and_complete():
    rows = [summary.test_row(_state()),
            summary.test_row(_state(whiteboard="", status="CANCEL",
                                    name="2-t.py:Other.test"))]
    lines = summary.table_lines(rows)
    assert lines[0].split() == list(summary.COLUMNS)
    assert len(lines) == 3
    verdict_col = lines[0].index("VERDICT")
    assert lines[1][verdict_col:].startswith("pass ")
    assert lines[2][verdict_col:].startswith("- ")
    assert f"{json.loads(WHITEBOARD)['recorded_icount']}" in lines[1]


def _bars(svg_text):
    root = ET.fromstring(svg_text)
    return [float(rect.get("width")) for rect in root.iter(SVG + "rect")
            if rect.get("class") in ("record", "replay")]


def test_svg_bars_are_proportional_to_the_times():
    fast = dict(summary.test_row(_state()), record_time=2.0, replay_time=4.0,
                test="1-a:A.t")
    slow = dict(fast, record_time=8.0, replay_time=1.0,
                test="2-a:<B&C>.t")
    text = summary.svg_chart([fast, slow])
    bars = _bars(text)
    assert len(bars) == 4
    assert bars[2] == max(bars)                     # 8 s is the longest
    assert bars[0] / bars[1] == pytest.approx(0.5)  # 2 s vs 4 s
    assert bars[2] / bars[3] == pytest.approx(8.0, rel=1e-3)
    assert "&lt;B&amp;C&gt;" in text


def test_svg_of_tests_without_times_is_valid():
    row = summary.test_row(_state(whiteboard="", status="ERROR"))
    assert _bars(summary.svg_chart([row])) == [0.0, 0.0]


def test_the_summary_says_where_a_failed_replay_went_wrong():
    from avocado_rr.plugins.summary import test_row, where_lines
    location = {"located": True, "kind": "divergence",
                "last_equal_icount": 100, "first_different_icount": 300,
                "recorded_icount": 1000, "registers": {"RIP": ["a", "b"]},
                "pages": [16], "page_count": 1, "compared": 4,
                "transients": [], "first_event": None}
    verdict = {"verdict": "diverged", "reason": "state", "location":
               location, "replays": {"kind": "mismatch"}}
    row = test_row({"name": "1-tests/avocado/replay_kernel.py:X86_64Pc."
                            "test_record_replay", "status": "FAIL",
                    "whiteboard": json.dumps(verdict)})
    assert where_lines([row]) == [
        "1-X86_64Pc.test_record_replay: state diverged between icount 100 "
        "(10.0%) and 300 (30.0%) [registers RIP; 1 RAM page(s); replays: "
        "mismatch]"]
    passing = dict(row, location=dict(row["location"], located=False))
    assert where_lines([passing]) == []
