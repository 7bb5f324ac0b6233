#!/usr/bin/env python3
"""Harness overhead: one kernel case through ReplayKernelTest vs raw QEMU.

In one run, alternating, ``--rounds`` times:

* **harness**: ``avocado run`` of one ReplayKernelTest case; the time is
  the test's own ``time_elapsed`` from results.json (setUp, record,
  replay, judging, tearDown; not Avocado's job start-up);
* **raw**: the very command lines that test ran (from its
  ``record-cmdline.txt`` / ``replay-cmdline.txt``) without ``-S`` or QMP:
  the recording is watched for the same console pattern and ended with
  SIGTERM (which ends a recording cleanly), the replay runs until QEMU
  exits by itself at the end of the log.

Prints the medians and the ratio harness/raw (goal: <= 1.05).

Usage: PYTHONPATH=. build/venv/bin/python benchmarks/bench_harness.py
           [--case tests/avocado/replay_kernel.py:X86_64Pc] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from avocado_rr.console import ConsoleWatcher  # noqa: E402


def run_harness(case: str, workdir: Path) -> tuple[float, Path, str]:
    """Run the case through Avocado; (time, its data dir, its pattern)."""
    results = workdir / "results"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-m", "avocado", "run", "--disable-sysinfo",
         "--job-results-dir", str(results), "-p", "keep_artifacts=1", case],
        cwd=ROOT, env=env, capture_output=True, text=True)
    data = json.loads((results / "latest" / "results.json").read_text())
    test = data["tests"][0]
    if test["status"] != "PASS":
        sys.exit(f"harness run did not pass: {test['status']} "
                 f"{test['fail_reason']}\n{proc.stdout}")
    datadir = Path(test["logdir"]) / "data"
    recording = json.loads((datadir / "replay.bin.json").read_text())
    return test["time_elapsed"], datadir, recording["pattern"]


def _raw_argv(cmdline: Path, rrfile: str, console: str) -> list[str]:
    argv = shlex.split(cmdline.read_text())
    argv.remove("-S")
    out = []
    for arg in argv:
        if arg.startswith("file,id=console,path="):
            arg = f"file,id=console,path={console}"
        elif arg.startswith("shift=") and "rrfile=" in arg:
            head, _ = arg.split("rrfile=", 1)
            arg = f"{head}rrfile={rrfile}"
        out.append(arg)
    return out


def run_raw(datadir: Path, pattern: str, workdir: Path) -> float:
    """The same command lines, no harness: record to pattern, replay."""
    import re
    rrfile = str(workdir / "raw.bin")
    console = workdir / "raw-record.log"
    regex = re.compile(pattern) if "|" in pattern else pattern
    start = time.monotonic()
    rec = subprocess.Popen(_raw_argv(datadir / "record-cmdline.txt", rrfile,
                                     str(console)),
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        match = ConsoleWatcher(console).wait([regex], [], timeout=300,
                                             alive=lambda: rec.poll() is None)
        if match.kind != "success":
            sys.exit(f"raw recording: {match.kind}")
        rec.send_signal(signal.SIGTERM)
        rec.wait(60)
        rep = subprocess.run(_raw_argv(datadir / "replay-cmdline.txt", rrfile,
                                       str(workdir / "raw-replay.log")),
                             stdout=subprocess.DEVNULL, timeout=600)
        if rep.returncode != 0:
            sys.exit(f"raw replay exited with {rep.returncode}")
    finally:
        if rec.poll() is None:
            rec.kill()
            rec.wait()
    return time.monotonic() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--case",
                        default="tests/avocado/replay_kernel.py:X86_64Pc")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    harness, raw = [], []
    for round_ in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="rr-bench-") as tmp:
            elapsed, datadir, pattern = run_harness(args.case, Path(tmp))
            harness.append(elapsed)
            raw.append(run_raw(datadir, pattern, Path(tmp)))
        print(f"round {round_ + 1}: harness {harness[-1]:.2f}s, "
              f"raw {raw[-1]:.2f}s", flush=True)
    h, r = statistics.median(harness), statistics.median(raw)
    print(f"\n{args.case}\nmedian harness {h:.2f}s, median raw {r:.2f}s, "
          f"ratio harness/raw {h / r:.3f} (goal <= 1.05)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
