"""benchmarks/soak.py: the statistics and the table it reports."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import soak  # noqa: E402


@pytest.mark.parametrize("failures, runs, low, high", [
    # reference values of the Wilson score interval, z = 1.96
    (0, 10, 0.0, 0.2775),
    (1, 10, 0.0179, 0.4042),
    (5, 10, 0.2366, 0.7634),
    (10, 10, 0.7225, 1.0),
    (0, 50, 0.0, 0.0714),
    (3, 20, 0.0524, 0.3604),
])
def test_wilson_matches_reference_values(failures, runs, low, high):
    got = soak.wilson(failures, runs)
    assert got == pytest.approx((low, high), abs=5e-4)


def test_wilson_is_symmetric_and_contains_the_rate():
    for runs in (1, 7, 50):
        for failures in range(runs + 1):
            low, high = soak.wilson(failures, runs)
            assert 0.0 <= low <= failures / runs <= high <= 1.0
            mirror = soak.wilson(runs - failures, runs)
            assert (low, high) == pytest.approx((1 - mirror[1],
                                                 1 - mirror[0]))


def test_wilson_without_runs_says_nothing():
    assert soak.wilson(0, 0) == (0.0, 1.0)


def test_spread_ignores_missing_times():
    assert soak.spread([3.0, None, 1.0, 2.0]) == {
        "median": 2.0, "min": 1.0, "max": 3.0, "n": 3}
    assert soak.spread([None]) is None


def test_case_name_drops_the_job_index_path_and_method():
    assert soak.case_name("12-tests/avocado/replay_kernel.py:X86_64Pc"
                          ".test_record_replay") == "X86_64Pc"
    assert soak.case_name("3-tests/avocado/replay_linux.py:I386Pc"
                          ".test_disk_net_iso") == "I386Pc.test_disk_net_iso"


def _row(case, verdict, status, record=1.0, replay=2.0, version="",
         reason=""):
    return {"test": f"1-tests/avocado/replay_kernel.py:{case}"
                    f".test_record_replay",
            "verdict": verdict, "status": status, "record_time": record,
            "replay_time": replay, "version": version, "reason": reason,
            "qemu_version": "QEMU emulator version 7.2.22"}


def test_summarize_counts_each_failure_verdict_and_status():
    rows = ([_row("MipselMalta", "pass", "PASS", record=r)
             for r in (4.0, 6.0, 5.0)] +
            [_row("MipselMalta", "record-failed", "WARN", record=None,
                  replay=None, reason="runaway recording")] * 2 +
            [_row("MipselMalta", "stalled", "FAIL", replay=9.0)] +
            [_row("X86_64Pc", "pass", "PASS")] * 4 +
            # an ERROR before any pair ran has no verdict
            [{"test": "5-tests/avocado/replay_kernel.py:X86_64Pc"
                      ".test_record_replay", "status": "ERROR",
              "verdict": None}])
    malta, x86 = soak.summarize(rows)
    assert malta["case"] == "MipselMalta"
    assert (malta["runs"], malta["passes"], malta["unexpected"]) == (6, 3, 1)
    assert malta["failures"] == [
        {"verdict": "record-failed", "status": "WARN", "count": 2},
        {"verdict": "stalled", "status": "FAIL", "count": 1}]
    assert malta["failure_rate"] == 0.5
    assert malta["wilson95"] == list(soak.wilson(3, 6))
    assert malta["record_time"] == {"median": 4.5, "min": 1.0, "max": 6.0,
                                    "n": 4}
    assert malta["replay_time"]["max"] == 9.0
    assert "record-failed: runaway recording" in malta["reasons"]
    assert (x86["runs"], x86["passes"], x86["unexpected"]) == (5, 4, 1)
    assert x86["failures"] == [{"verdict": "error", "status": "ERROR",
                                "count": 1}]


def test_summarize_keeps_qemu_versions_apart():
    rows = [_row("X86_64Pc", "pass", "PASS", version="7.2"),
            _row("X86_64Pc", "diverged", "FAIL", version="10.0")]
    entries = soak.summarize(rows)
    assert [(e["version"], e["passes"]) for e in entries] == [("10.0", 0),
                                                              ("7.2", 1)]
    assert "| QEMU |" in soak.table(entries)


def test_table_has_one_row_per_case_with_the_interval():
    rows = [_row("X86_64Pc", "pass", "PASS", record=2.0, replay=3.0)] * 9 + [
        _row("X86_64Pc", "stalled", "FAIL", record=2.5, replay=8.25)]
    text = soak.table(soak.summarize(rows))
    lines = text.splitlines()
    assert lines[0].startswith("| case | runs | pass | failures")
    assert "QEMU" not in lines[0]                  # one version only
    assert lines[2] == ("| X86_64Pc | 10 | 9 | stalled x1 (FAIL) | "
                        "2.0 (2.0-2.5) | 3.0 (3.0-8.2) | "
                        "10 % [1.8-40.4 %] |")


def test_parse_plan_takes_counts_per_case():
    plan = soak.parse_plan(["a.py:A=50", "a.py:B"], runs=7)
    assert plan == {"a.py:A": 50, "a.py:B": 7}


def _doc(name, rows, code="c1", rounds=2):
    return {"name": name, "commit": "abc", "code": code, "rounds": rounds,
            "complete": True, "wall_s": 60.0, "rows": rows,
            "summary": soak.summarize(rows)}


def test_pool_adds_the_runs_of_saved_soaks_of_the_same_code():
    first = _doc("a", [dict(_row("X86_64Pc", "pass", "PASS"), round=r)
                       for r in (1, 2)])
    second = _doc("b", [dict(_row("X86_64Pc", "stalled", "WARN"), round=1)],
                  rounds=1)
    pooled = soak.pool([first, second])
    (entry,) = pooled["summary"]
    assert (entry["runs"], entry["passes"]) == (3, 2)
    assert [row["round"] for row in pooled["rows"]] == [1, 2, 3]
    assert pooled["name"] == "a+b" and pooled["rounds"] == 3
    assert "3 of 3 rounds" in soak.report_text(pooled)


def test_pool_refuses_runs_of_different_code():
    with pytest.raises(SystemExit, match="different code"):
        soak.pool([_doc("a", [], code="c1"), _doc("b", [], code="c2")])


def test_exact_reference_selects_one_class():
    assert soak.exact("t.py:ArmVirt") == r"t.py:^ArmVirt\."
    # what is already a pattern, or a whole file, is left as given
    assert soak.exact("t.py:ArmVirt.test_x") == "t.py:ArmVirt.test_x"
    assert soak.exact("t.py") == "t.py"


class _FakeRuns:
    """Stands in for ``run_round`` (one ``avocado run``) on a fake clock:
    each job takes ``job_s`` seconds and passes every case."""

    def __init__(self, job_s):
        self.now = 0.0
        self.job_s = job_s
        self.jobs = []

    def monotonic(self):
        return self.now

    def run_round(self, refs, results, version, timeout, params=()):
        self.now += self.job_s
        self.jobs.append((version, tuple(refs)))
        return [_row(ref.partition(":")[2], "pass", "PASS") for ref in refs]


def _fake_soak(monkeypatch, job_s, **kwargs):
    fake = _FakeRuns(job_s)
    monkeypatch.setattr(soak, "run_round", fake.run_round)
    monkeypatch.setattr(soak.time, "monotonic", fake.monotonic)
    monkeypatch.setattr(soak, "code_revision", lambda: "code")
    saved = []
    doc = soak.soak({"t.py:A": 3, "t.py:B": 1}, ["10.0", "11.1"], "n",
                    timeout=60, save=saved.append, **kwargs)
    return fake, doc, saved


def test_soak_versions_take_turns_within_a_round(monkeypatch):
    fake, doc, saved = _fake_soak(monkeypatch, job_s=10)
    assert fake.jobs == [("10.0", ("t.py:A", "t.py:B")),
                         ("11.1", ("t.py:A", "t.py:B")),
                         ("10.0", ("t.py:A",)), ("11.1", ("t.py:A",)),
                         ("10.0", ("t.py:A",)), ("11.1", ("t.py:A",))]
    assert [row["round"] for row in doc["rows"]] == [1, 1, 1, 1, 2, 2, 3, 3]
    assert doc["complete"] and doc["stopped"] is None
    # saved after every job, the last one complete
    assert [d["complete"] for d in saved] == [False] * 6 + [True]


def test_soak_starts_no_round_past_its_time_budget(monkeypatch):
    # a round of two jobs takes 100 s: with 250 s, round 3 would end at
    # 300 s, so it does not start
    fake, doc, _ = _fake_soak(monkeypatch, job_s=50, minutes=250 / 60)
    assert len(fake.jobs) == 4
    assert not doc["complete"]
    assert doc["stopped"] == ("time budget of 4.16667 min: round 3 would "
                              "not end within it")
    assert "2 of 3 rounds (cut short: time budget" in soak.report_text(doc)
    pooled = soak.pool([doc, dict(doc, stopped=None, complete=True)])
    assert not pooled["complete"]
    assert pooled["stopped"].startswith("time budget of 4.16667 min")


def test_the_soak_counts_checkpoints_and_places_failures():
    location = {"located": True, "kind": "failure", "recorded_icount": 1000,
                "last_equal_icount": 500, "first_different_icount": 900,
                "registers": [], "page_count": 0, "compared": 4,
                "transients": 1}
    rows = [{"test": "1-t.py:Case.test", "status": "PASS", "verdict": "pass",
             "round": 1, "location": {"compared": 6, "transients": 0,
                                      "kind": "none"}},
            {"test": "1-t.py:Case.test", "status": "WARN",
             "verdict": "stalled", "round": 2, "location": location,
             "replays": "mismatch"}]
    (entry,) = soak.summarize(rows)
    assert (entry["checkpoints"], entry["transients"],
            entry["divergences"]) == (10, 1, 0)
    assert entry["locations"] == [
        "round 2: failure 500 (50.0%) .. 900 (90.0%) replays: mismatch"]


def test_false_alarms_count_only_clean_pairs():
    """A divergence located in a pair that failed anyway (a known failure)
    is no false alarm; one in a clean pair is, and bounds the rate."""
    def located(kind, compared, transients=0):
        return {"kind": kind, "compared": compared,
                "transients": transients}
    rows = ([dict(_row("X86_64Pc", "pass", "PASS"),
                  location=located("none", 6, 1))] * 3 +
            [dict(_row("Ppc64Pseries", "diverged", "WARN"),
                  location=located("divergence", 7))] +
            [dict(_row("MipselMalta", "pass", "PASS", version="10.0"),
                  location=located("none", 4))])
    alarms = soak.false_alarms(rows)
    assert (alarms["pairs"], alarms["cases"], alarms["pairs_per_case"]) == \
        (4, 2, [1, 3])
    assert (alarms["checkpoints"], alarms["transients"],
            alarms["divergences"]) == (22, 3, 0)
    assert alarms["upper95_per_pair"] == soak.wilson(0, 4)[1]
    assert alarms["upper95_per_checkpoint"] == soak.wilson(0, 22)[1]
    # console and icount reproduced, the state check alone failed it
    rows[0] = dict(rows[0], verdict="diverged", status="FAIL",
                   reason="state check failed: the guest's state differs",
                   location=located("divergence", 6))
    alarms = soak.false_alarms(rows)
    assert (alarms["pairs"], alarms["divergences"]) == (4, 1)
