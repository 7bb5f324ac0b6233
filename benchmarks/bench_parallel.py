#!/usr/bin/env python3
"""Speed-up of the replay suite from parallel tasks, with the same verdicts.

Runs the same ``avocado run`` selection (what ``make check-avocado``
runs) with ``--max-parallel-tasks 1`` and then ``2`` (``--tasks``),
alternating for ``--rounds`` rounds, and reports the job wall times
(``avocado run`` start to exit), the median ratio serial/parallel
(goal: >= 1.8 on 2 idle cores) and whether every test got the same
status and record/replay verdict in every run.  Exit status 1 when the
verdicts differ.

The machine should be otherwise idle: the reference is measured in the
same run, but other load skews the two modes differently.

Usage: PYTHONPATH=. build/venv/bin/python benchmarks/bench_parallel.py
           [-t TAGS ...] [--tasks 2] [--rounds 1] [--json]
Default selection: -t machine:microvm -t cpu:cortex-a53 -t cpu:cortex-a72
-t cpu:cortex-a7 (four short boots).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUITE = "tests/avocado/replay_kernel.py"
DEFAULT_TAGS = ["machine:microvm", "cpu:cortex-a53", "cpu:cortex-a72",
                "cpu:cortex-a7"]


def run_job(tags: list[str], tasks: int, results: Path) -> tuple[float, dict]:
    """One ``avocado run``; (wall seconds, test id -> (status, verdict))."""
    argv = [sys.executable, "-m", "avocado", "run", "--disable-sysinfo",
            "--job-results-dir", str(results),
            f"--max-parallel-tasks={tasks}"]
    for tag in tags:
        argv += ["-t", tag]
    argv += ["--", SUITE]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    start = time.monotonic()
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True,
                          text=True)
    wall = time.monotonic() - start
    try:
        data = json.loads((results / "latest" / "results.json").read_text())
    except OSError:
        sys.exit(f"avocado run failed (rc {proc.returncode}):\n"
                 f"{proc.stdout}{proc.stderr}")
    verdicts = {}
    for test in data["tests"]:
        try:
            verdict = json.loads(test["whiteboard"] or "{}").get("verdict")
        except ValueError:
            verdict = None
        verdicts[test["id"]] = (test["status"], verdict)
    return wall, verdicts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-t", "--tags", action="append", default=[],
                        help="avocado -t filter (repeatable; as make "
                        "check-avocado's AVOCADO_TAGS)")
    parser.add_argument("--tasks", type=int, default=2,
                        help="parallel tasks to compare with 1 (2)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    tags = args.tags or DEFAULT_TAGS

    times: dict[int, list[float]] = {1: [], args.tasks: []}
    runs: list[tuple[int, dict]] = []
    with tempfile.TemporaryDirectory(prefix="bench-parallel-") as tmp:
        for round_ in range(args.rounds):
            for tasks in (1, args.tasks):
                wall, verdicts = run_job(
                    tags, tasks, Path(tmp) / f"r{round_}-t{tasks}")
                times[tasks].append(wall)
                runs.append((tasks, verdicts))
                print(f"round {round_ + 1}: {tasks} task(s): {wall:.1f} s, "
                      f"{len(verdicts)} tests", file=sys.stderr)
    reference = runs[0][1]
    same = all(verdicts == reference for _, verdicts in runs)
    serial = statistics.median(times[1])
    parallel = statistics.median(times[args.tasks])
    report = {"tags": tags, "tests": len(reference),
              "serial_s": round(serial, 2), "parallel_s": round(parallel, 2),
              "tasks": args.tasks, "speedup": round(serial / parallel, 3),
              "goal": 1.8, "same_verdicts": same,
              "verdicts": {test: list(v) for test, v in reference.items()}}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"tests: {len(reference)} ({' | '.join(tags)})")
        print(f"--max-parallel-tasks 1: {serial:.1f} s (median of "
              f"{args.rounds})")
        print(f"--max-parallel-tasks {args.tasks}: {parallel:.1f} s")
        print(f"speed-up: {serial / parallel:.2f}x (goal >= 1.8)")
        print(f"same verdicts in every run: {'yes' if same else 'NO'}")
        for test, (status, verdict) in sorted(reference.items()):
            print(f"  {status:6} {verdict or '-':14} {test}")
        if not same:
            for tasks, verdicts in runs:
                for test, value in sorted(verdicts.items()):
                    if reference.get(test) != value:
                        print(f"  differs with {tasks} task(s): {test}: "
                              f"{value} vs {reference.get(test)}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
