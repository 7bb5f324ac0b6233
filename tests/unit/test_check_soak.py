"""benchmarks/check_soak.py: reading pytest's JUnit files, the report."""

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import check_soak  # noqa: E402

SAMPLE = '''
def test_ok():
    pass

def test_bad():
    assert 1 == 2, "one is not two"

def test_error(missing_fixture):
    pass
'''


def _junit(tmp_path, source: str) -> Path:
    """A JUnit file written by a real pytest run of ``source``."""
    (tmp_path / "test_sample.py").write_text(source)
    junit = tmp_path / "out.xml"
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p",
                    "no:cacheprovider", f"--junitxml={junit}",
                    str(tmp_path / "test_sample.py")], cwd=tmp_path,
                   capture_output=True)
    return junit


def test_junit_outcomes_of_a_real_pytest_run(tmp_path):
    got = check_soak.junit_outcomes(_junit(tmp_path, SAMPLE))
    assert {name.split("::")[1]: r["outcome"] for name, r in got.items()} \
        == {"test_ok": "passed", "test_bad": "failed",
            "test_error": "error"}
    bad = next(r for name, r in got.items() if name.endswith("test_bad"))
    assert "one is not two" in bad["message"]


def test_summary_counts_each_test_over_the_runs():
    runs = [{"run": 1, "tests": {"a": {"outcome": "passed", "message": ""},
                                 "b": {"outcome": "failed",
                                       "message": "boom"}}},
            {"run": 2, "tests": {"a": {"outcome": "passed", "message": ""},
                                 "b": {"outcome": "passed", "message": ""}}}]
    summary = check_soak.summarize(runs)
    assert [(e["test"], e["failures"], e["runs"]) for e in summary] == \
        [("b", 1, 2)]
    assert summary[0]["details"] == ["run 1 failed: boom"]
    doc = {"name": "t", "commit": "c" * 40, "code": "x", "wall_s": 60,
           "runs": [dict(r, sigint="default", exit=0, wall_s=30)
                    for r in runs], "summary": summary}
    text = check_soak.report_text(doc)
    assert "b: 1 of 2" in text and "run 1 failed: boom" in text


def test_a_clean_soak_says_so():
    runs = [{"run": n, "sigint": "ignored", "exit": 0, "wall_s": 1,
             "tests": {"a": {"outcome": "passed", "message": ""}}}
            for n in (1, 2, 3, 4, 5)]
    doc = {"name": "t", "commit": "c" * 40, "code": "x", "wall_s": 5,
           "runs": runs, "summary": check_soak.summarize(runs)}
    assert doc["summary"] == []
    assert "none: 1 tests x 5 runs" in check_soak.report_text(doc)


def test_sigint_alternates_starting_ignored():
    assert [check_soak._sigint("alternate", n) for n in (1, 2, 3)] == \
        ["ignored", "default", "ignored"]
