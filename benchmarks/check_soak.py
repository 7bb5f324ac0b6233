#!/usr/bin/env python3
"""Flakiness of ``make check`` itself: the project's tests, N times.

The functional tests run real QEMU, real Avocado jobs and real signals:
they can flake like the suite.  This clones the repository at HEAD (a
clean clone, as CI gets it: nothing of this checkout's build/ or
uncommitted changes), then runs ``make check`` in the clone N times in a
row, each run writing a JUnit file, and reports each test's failures
over the runs with the Wilson 95 % interval of its failure rate.

How the runs are started matters: a script that starts ``make check`` in
the background (a shell without job control) hands every process SIGINT
*ignored*, a terminal hands it SIGINT at its default.  ``--sigint
alternate`` (the default) starts odd runs the first way and even runs
the second, so that both are measured; ``ignored`` and ``default`` start
every run one way.

The clone builds its own venv on its first run (``make check`` sets up
everything); the asset cache is the user's, as for any checkout.  The
run is saved as ``benchmarks/results/check-soak-<commit>-<name>.{json,
txt}``; the clone and every run's output and JUnit file stay in
``build/check-soak/`` for the post-mortem of a failure.

Usage: PYTHONPATH=. build/venv/bin/python benchmarks/check_soak.py
           [--runs 5] [--sigint alternate|ignored|default] [--name NAME]
       PYTHONPATH=. build/venv/bin/python benchmarks/check_soak.py
           --report RUN.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCHMARKS))

from bench_harness import ROOT, code_revision  # noqa: E402
from soak import RESULTS, wilson  # noqa: E402

WORK = ROOT / "build" / "check-soak"
SIGINT_MODES = ("alternate", "ignored", "default")


def junit_outcomes(path: Path) -> dict[str, dict]:
    """``{test id: {"outcome": passed|failed|error|skipped, "message"}}``
    from a pytest JUnit file."""
    outcomes = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = {"failure": "failed"}.get(child.tag, child.tag)
                message = _gist(child.get("message") or "")
                break
        outcomes[name] = {"outcome": outcome, "message": message}
    return outcomes


def _gist(message: str) -> str:
    """A failure's first line and, if another, its last (pytest ends an
    assertion's message with the comparison that failed)."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if not lines:
        return ""
    gist = lines[0] if len(lines) == 1 else f"{lines[0]} ... {lines[-1]}"
    return gist[:400]


def summarize(runs: list[dict]) -> list[dict]:
    """One entry per test that did not pass every run it ran in."""
    tests: dict[str, list[dict]] = {}
    for run in runs:
        for name, result in run["tests"].items():
            tests.setdefault(name, []).append(dict(result, run=run["run"]))
    out = []
    for name, results in sorted(tests.items()):
        bad = [r for r in results if r["outcome"] != "passed"]
        if not bad:
            continue
        low, high = wilson(len(bad), len(results))
        out.append({"test": name, "runs": len(results), "failures": len(bad),
                    "wilson95": [low, high],
                    "details": [f"run {r['run']} {r['outcome']}: "
                                f"{r['message']}" for r in bad]})
    return out


def report_text(doc: dict) -> str:
    runs = doc["runs"]
    total = {run["run"]: len(run["tests"]) for run in runs}
    lines = [f"check-soak {doc['name']}: commit {doc['commit']} (code "
             f"{doc['code']}), {len(runs)} runs of 'make check' from a clean "
             f"clone, {doc['wall_s'] / 60:.0f} min", ""]
    lines.append("| run | SIGINT when started | exit | tests | not passed "
                 "| minutes |")
    lines.append("|---|---|---|---|---|---|")
    for run in runs:
        bad = sum(1 for r in run["tests"].values()
                  if r["outcome"] != "passed")
        lines.append(f"| {run['run']} | {run['sigint']} | {run['exit']} | "
                     f"{total[run['run']]} | {bad} | "
                     f"{run['wall_s'] / 60:.1f} |")
    failing = doc["summary"]
    lines += ["", f"tests that did not pass every run: {len(failing)}"]
    for entry in failing:
        low, high = entry["wilson95"]
        lines.append(f"  {entry['test']}: {entry['failures']} of "
                     f"{entry['runs']} [Wilson 95 % {100 * low:.0f}-"
                     f"{100 * high:.0f} %]")
        lines += [f"    {detail}" for detail in entry["details"]]
    if not failing:
        tests = max(total.values(), default=0)
        high = wilson(0, len(runs))[1]
        lines.append(f"  none: {tests} tests x {len(runs)} runs; a test's "
                     f"failure rate is below {100 * high:.0f} % at 95 %")
    return "\n".join(lines) + "\n"


def _sigint(mode: str, run: int) -> str:
    if mode == "alternate":
        return "ignored" if run % 2 else "default"
    return mode


def _disposition(which: str):
    wanted = signal.SIG_IGN if which == "ignored" else signal.SIG_DFL

    def preexec() -> None:
        signal.signal(signal.SIGINT, wanted)
    return preexec


def clean_clone() -> Path:
    clone = WORK / "clone"
    if clone.exists():
        shutil.rmtree(clone)
    WORK.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    return clone


def run_check(clone: Path, run: int, sigint: str) -> dict:
    junit = WORK / f"run-{run}.xml"
    junit.unlink(missing_ok=True)
    output = WORK / f"run-{run}.log"
    start = time.monotonic()
    with open(output, "w", encoding="utf-8") as out:
        proc = subprocess.run(
            ["make", "check",
             f"PYTEST_ARGS=-p no:cacheprovider --junitxml={junit}"],
            cwd=clone, stdout=out, stderr=subprocess.STDOUT,
            preexec_fn=_disposition(sigint))
    wall = time.monotonic() - start
    tests = junit_outcomes(junit) if junit.exists() else {}
    if not tests:
        # make failed before pytest ran: one failure that says so
        tests = {"make check": {"outcome": "error",
                                "message": f"no JUnit file; see {output}"}}
    print(f"run {run} (SIGINT {sigint}): exit {proc.returncode}, "
          f"{len(tests)} tests, {wall / 60:.1f} min", flush=True)
    return {"run": run, "sigint": sigint, "exit": proc.returncode,
            "wall_s": wall, "log": str(output), "tests": tests}


def save(doc: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    base = RESULTS / f"check-soak-{doc['commit'][:7]}-{doc['name']}"
    base.with_suffix(".json").write_text(json.dumps(doc, indent=1) + "\n")
    base.with_suffix(".txt").write_text(report_text(doc))
    return base


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sigint", choices=SIGINT_MODES,
                        default="alternate",
                        help="SIGINT disposition each run starts with")
    parser.add_argument("--name", default="runs")
    parser.add_argument("--report", metavar="RUN.json",
                        help="print a saved run again")
    args = parser.parse_args(argv)
    if args.report:
        print(report_text(json.loads(Path(args.report).read_text())), end="")
        return 0
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True,
                            check=True).stdout.strip()
    code = code_revision()
    if code.endswith("+changes"):
        print("note: uncommitted changes are not in the clone; HEAD is "
              "what runs", file=sys.stderr)
    clone = clean_clone()
    start = time.monotonic()
    runs = []
    for run in range(1, args.runs + 1):
        runs.append(run_check(clone, run, _sigint(args.sigint, run)))
        doc = {"name": args.name, "commit": commit,
               "code": code.removesuffix("+changes"), "runs": runs,
               "wall_s": time.monotonic() - start,
               "summary": summarize(runs)}
        base = save(doc)
    print(report_text(doc), end="")
    print(f"saved {base}.json and .txt")
    return 1 if doc["summary"] else 0


if __name__ == "__main__":
    sys.exit(main())
