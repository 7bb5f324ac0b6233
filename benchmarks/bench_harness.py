#!/usr/bin/env python3
"""Harness overhead: one kernel case through ReplayKernelTest vs raw QEMU.

In one run, after a first harness run (not counted) that gives the
command lines, ``--rounds`` rounds of the four, in an order that rotates
from round to round:

* **harness**: ``avocado run`` of one ReplayKernelTest case; the time is
  the test's own ``time_elapsed`` from results.json (setUp, record,
  replay, judging, tearDown; not Avocado's job start-up);
* **raw**: the very command lines that test ran (from its
  ``record-cmdline.txt`` / ``replay-cmdline.txt``, with the QMP monitor
  socket the harness adds, which nobody connects to) without ``-S``: the
  recording is watched for the same console pattern and ended with
  SIGTERM (which ends a recording cleanly), the replay runs until QEMU
  exits by itself at the end of the log;
* **raw, no QMP**: the same without the QMP monitor;
* **engine**: the same case through ``avocado_rr.engine`` (what
  ReplayKernelTest runs) in this process, without Avocado: splits the
  harness's overhead between avocado-rr and Avocado.

Prints the medians and the ratios harness/raw (the harness's own
overhead, goal: <= 1.05), harness/engine (Avocado's share of it) and
raw/raw-no-QMP: what merely having a QMP
monitor costs QEMU 7.2 under icount.  A QMP monitor on a socket runs in
QEMU's monitor I/O thread, whose AioContext is woken by every
virtual-clock notification (the guest's timers): one more thread busy on
a 2-core machine and an eventfd write per notification in the vCPU
thread.  No QMP client can avoid it; HMP or a QMP monitor on the null
chardev (no I/O thread) do not pay it.

Last, a 90 % bootstrap interval of harness/raw (median of the per-round
ratios, resampling rounds) says whether the goal is met, missed, or not
decided by the run (it takes --rounds 8 or more to decide anything).

A noisy machine may need more rounds than one sitting allows: ``--save``
writes a run's times with the version of the code under test, ``--pool``
reports on several saved runs of the same case and code taken together;
``--contenders raw`` runs only the harness and raw, for more rounds an hour.

Usage: PYTHONPATH=. build/venv/bin/python benchmarks/bench_harness.py
           [--case tests/avocado/replay_kernel.py:X86_64Pc] [--rounds 3]
           [--save run.json] [--contenders raw ...]
       PYTHONPATH=. build/venv/bin/python benchmarks/bench_harness.py
           --pool run1.json run2.json ...
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
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
from avocado_rr.engine import RecordReplay  # noqa: E402
from avocado_rr.guestram import BACKEND_ID  # noqa: E402
from avocado_rr.pair import Recording  # noqa: E402
from avocado_rr.machine import qmp_args  # noqa: E402
from avocado_rr.qemu_binary import find_qemu  # noqa: E402


def run_harness(case: str, workdir: Path
                ) -> tuple[float, Path, str, tuple[float, float]]:
    """Run the case through Avocado.

    :return: its time, its data dir, its pattern, its (record, replay)
             times
    """
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
    verdict = json.loads((datadir / "verdict.json").read_text())
    return (test["time_elapsed"], datadir, recording["pattern"],
            (verdict["record_time"], verdict["replay_time"]))


def watch_pattern(pattern: str) -> str | re.Pattern:
    """The recorded pattern text as the case gave it: the suite's
    alternatives (``a|b``) are regexes, its single lines literal."""
    return re.compile(pattern) if "|" in pattern else pattern


def _raw_argv(cmdline: Path, rrfile: str, console: str,
              qmp: str | None) -> list[str]:
    """The harness's command line as plain QEMU runs it: no -S, no guest
    RAM file for state checkpoints (raw QEMU takes none), the console and
    log in the raw run's place."""
    argv = _without_ram_file(shlex.split(cmdline.read_text()))
    argv.remove("-S")
    if qmp:
        argv += qmp_args(qmp)
    out = []
    for arg in argv:
        if arg.startswith("file,id=console,path="):
            arg = f"file,id=console,path={console}"
        elif arg.startswith("shift=") and "rrfile=" in arg:
            head, _ = arg.split("rrfile=", 1)
            arg = f"{head}rrfile={rrfile}"
        out.append(arg)
    return out


def _without_ram_file(argv: list[str]) -> list[str]:
    """``argv`` without the ``memory-backend-file`` the checkpoints add."""
    out, skip = [], False
    for option, value in zip(argv, argv[1:] + [""]):
        if skip:
            skip = False
        elif option in ("-object", "-machine") and (
                value.startswith(f"memory-backend-file,id={BACKEND_ID},")
                or value == f"memory-backend={BACKEND_ID}"):
            skip = True
        else:
            out.append(option)
    return out


def run_raw(datadir: Path, pattern: str, workdir: Path,
            with_qmp: bool) -> tuple[float, float]:
    """The same command lines, no harness: record to pattern, replay."""
    rrfile = str(workdir / "raw.bin")
    console = workdir / "raw-record.log"
    console.unlink(missing_ok=True)
    qmp = str(workdir / "qmp.sock") if with_qmp else None
    regex = watch_pattern(pattern)
    start = time.monotonic()
    rec = subprocess.Popen(_raw_argv(datadir / "record-cmdline.txt", rrfile,
                                     str(console), qmp),
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        match = ConsoleWatcher(console).wait([regex], [], timeout=300,
                                             alive=lambda: rec.poll() is None)
        if match.kind != "success":
            sys.exit(f"raw recording: {match.kind}")
        rec.send_signal(signal.SIGTERM)
        rec.wait(60)
        recorded = time.monotonic()
        rep = subprocess.run(_raw_argv(datadir / "replay-cmdline.txt", rrfile,
                                       str(workdir / "raw-replay.log"), qmp),
                             stdout=subprocess.DEVNULL, timeout=600)
        if rep.returncode != 0:
            sys.exit(f"raw replay exited with {rep.returncode}")
    finally:
        if rec.poll() is None:
            rec.kill()
            rec.wait()
    return recorded - start, time.monotonic() - recorded


def run_engine(datadir: Path, pattern: str, workdir: Path
               ) -> tuple[float, float]:
    """The case's record/replay pair through the engine, no Avocado."""
    spec = Recording.load(str(datadir / "replay.bin")).spec
    regex = watch_pattern(pattern)
    engine = RecordReplay(find_qemu(spec.arch), str(workdir / "engine"))
    verdict = engine.check(spec, regex, timeout=300)
    if not verdict.passed:
        sys.exit(f"engine pair did not pass: {verdict.summary()}")
    return verdict.record_time, verdict.replay_time


GOAL = 1.05
#: in the order the rounds are printed
CONTENDERS = ("harness", "raw", "raw without QMP", "engine")
#: a bootstrap over fewer rounds says little on a machine this noisy
MIN_ROUNDS_TO_DECIDE = 8


def paired(num: list[float], den: list[float]) -> float:
    """Median of the per-round ratios (cancels drift between rounds)."""
    return statistics.median(n / d for n, d in zip(num, den))


def interval(num: list[float], den: list[float],
             level: float = 0.9) -> tuple[float, float]:
    """Bootstrap interval of :func:`paired` over the rounds."""
    rng = random.Random(0)
    pairs = list(zip(num, den))
    medians = sorted(
        paired(*zip(*(rng.choice(pairs) for _ in pairs)))
        for _ in range(2000))
    tail = (1 - level) / 2
    return (medians[int(tail * len(medians))],
            medians[int((1 - tail) * len(medians)) - 1])


#: the ratios reported when both sides were measured: (numerator,
#: denominator, what it says)
RATIOS = (
    ("harness", "raw", "the harness's overhead"),
    ("engine", "raw", "avocado-rr's engine without Avocado"),
    ("harness", "engine", "Avocado's layer"),
    ("raw", "raw without QMP", "QEMU's cost of a QMP monitor under icount"),
    ("harness", "raw without QMP", ""),
)


def report(case: str, totals: dict[str, list[float]],
           phases: dict[str, list[list[float]]], goal: float = GOAL) -> None:
    """Print the medians, the ratios and the verdict on the goal.

    ``totals`` and ``phases`` hold the contenders that were run, at
    least ``harness`` and ``raw``.
    """
    for name, times in phases.items():
        print(f"  {name:<16} median record "
              f"{statistics.median(t[0] for t in times):.2f}s, replay "
              f"{statistics.median(t[1] for t in times):.2f}s")
    medians = {name: statistics.median(times)
               for name, times in totals.items()}
    harness, raw = totals["harness"], totals["raw"]
    lines = [f"\n{case}, {len(harness)} rounds",
             "median " + ", ".join(f"{name} {median:.2f}s"
                                   for name, median in medians.items()),
             "ratios (of the medians; median of the per-round ratios; "
             "of the sums):"]
    for num, den, meaning in RATIOS:
        if num in totals and den in totals:
            lines.append(
                f"{num + '/' + den:<28} {medians[num] / medians[den]:.3f}  "
                f"{paired(totals[num], totals[den]):.3f}  "
                f"{sum(totals[num]) / sum(totals[den]):.3f}  {meaning}"
                .rstrip())
    print("\n".join(lines))
    low, high = interval(harness, raw)
    if len(harness) < MIN_ROUNDS_TO_DECIDE:
        outcome = f"not decided (fewer than {MIN_ROUNDS_TO_DECIDE} rounds)"
    elif high <= goal:
        outcome = "met"
    elif low > goal:
        outcome = "not met"
    else:
        outcome = "not decided by this run (the interval contains it)"
    print(f"harness/raw, 90 % bootstrap interval of the median of the "
          f"per-round ratios: {low:.3f}-{high:.3f}; goal <= {goal}: "
          f"{outcome}")


#: what a run measures: the harness's code, the tests, the assets
CODE_UNDER_TEST = ("avocado_rr", "tests/avocado", "configs", "setup.py")


def code_revision() -> str:
    """Git's ids of :data:`CODE_UNDER_TEST` at HEAD (``+changes`` when the
    checkout differs): runs of commits that only touched documentation or
    benchmarks measured the same code and can be pooled."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True,
                              text=True).stdout.strip()
    trees = git("rev-parse", *(f"HEAD:{path}" for path in CODE_UNDER_TEST))
    changed = git("status", "--porcelain", "--untracked-files=no", "--",
                  *CODE_UNDER_TEST)
    return (",".join(tree[:12] for tree in trees.split())
            + ("+changes" if changed else ""))


def pool(paths: list[str]) -> tuple[str, dict, dict]:
    """Join runs saved with --save: same case, same code, or an error.

    The contenders are those every run measured.
    """
    runs = [json.loads(Path(path).read_text()) for path in paths]
    for key in ("case", "code"):
        values = {run[key] for run in runs}
        if len(values) > 1:
            sys.exit(f"cannot pool runs of different {key}s: "
                     f"{', '.join(sorted(values))}")
    names = [name for name in CONTENDERS
             if all(name in run["totals"] for run in runs)]
    totals = {name: [t for run in runs for t in run["totals"][name]]
              for name in names}
    phases = {name: [t for run in runs for t in run["phases"][name]]
              for name in names}
    return runs[0]["case"], totals, phases


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--case",
                        default="tests/avocado/replay_kernel.py:X86_64Pc")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--save", metavar="JSON",
                        help="also write the rounds' times (and the version "
                             "of the code under test) to JSON, for --pool")
    parser.add_argument("--contenders", nargs="+", metavar="NAME",
                        choices=CONTENDERS, default=list(CONTENDERS),
                        help="run only these (harness and raw always "
                             "run): fewer per round, more rounds an hour")
    parser.add_argument("--goal", type=float, default=GOAL,
                        help=f"the harness/raw ratio to judge ({GOAL}; the "
                        f"suite's default state checkpoints: 1.15)")
    parser.add_argument("--pool", metavar="JSON", nargs="+",
                        help="run nothing: report on runs saved with --save "
                             "(same case and code) taken together")
    args = parser.parse_args()
    if args.pool:
        report(*pool(args.pool), goal=args.goal)
        return 0
    # the code under test is the checkout as it is when the run starts
    code = code_revision()
    names = [name for name in CONTENDERS
             if name in ("harness", "raw") or name in args.contenders]
    totals: dict[str, list[float]] = {name: [] for name in names}
    phases: dict[str, list[tuple[float, float]]] = {
        name: [] for name in names}
    with tempfile.TemporaryDirectory(prefix="rr-bench-") as tmp:
        # a first harness run, not counted, gives the command lines
        _, datadir, pattern, _ = run_harness(args.case, Path(tmp) / "lines")
        for round_ in range(args.rounds):
            work = Path(tmp) / f"round{round_}"
            work.mkdir()

            def through_harness():
                elapsed, _, _, times = run_harness(args.case, work)
                return elapsed, times

            def total(times):
                return sum(times), times

            contenders = [
                ("harness", through_harness),
                ("raw", lambda: total(run_raw(datadir, pattern, work,
                                              with_qmp=True))),
                ("raw without QMP",
                 lambda: total(run_raw(datadir, pattern, work,
                                       with_qmp=False))),
                ("engine", lambda: total(run_engine(datadir, pattern, work))),
            ]
            contenders = [(name, run) for name, run in contenders
                          if name in names]
            # rotate, so that a drift of the machine's speed within a
            # round does not always favour the same one
            shift = round_ % len(contenders)
            for name, run in contenders[shift:] + contenders[:shift]:
                elapsed, times = run()
                totals[name].append(elapsed)
                phases[name].append(times)
            print(f"round {round_ + 1}: " + ", ".join(
                f"{name} {totals[name][-1]:.2f}s" for name in names),
                flush=True)
    if args.save:
        Path(args.save).write_text(json.dumps(
            {"case": args.case, "code": code,
             "totals": totals, "phases": phases}, indent=1))
    report(args.case, totals, phases, args.goal)
    return 0


if __name__ == "__main__":
    sys.exit(main())
