#!/usr/bin/env python3
"""Soak: the replay suite's cases run many times in a row, flake rates.

Runs the real suite through ``avocado run`` (not the engine alone: what
fails under Avocado is what CI meets), one job per round, serially
(``--max-parallel-tasks=1``): round *r* runs every case that has fewer
than its planned runs, so that the cases interleave.  Each test's
verdict class, Avocado status and record/replay times come from the
job's ``replay-summary.json`` (avocado-rr's summary plugin).

Per case (and QEMU version) the table gives the runs, the passes, each
failure verdict with its count and Avocado status (WARN: a known failure
that reproduced; FAIL/ERROR: not known), the median, min and max of the
record and replay times, and the failure rate with its Wilson 95 %
interval.  The run is saved as ``benchmarks/results/soak-<commit>-<name>
.{json,txt}`` with the git commit, the ids of the code under test and the
QEMU versions; the Avocado job results (the artifacts of every failed
run) stay in ``build/soak/``.

Default selection: every case of the kernel, firmware and bare-metal
suites (tests/avocado/replay_{kernel,firmware,baremetal}.py) 20 times and
``X86_64Pc`` 50 times (hours on 2 cores).  ``--versions V
...`` runs the whole selection once per QEMU version, handing each to the
suite as ``AVOCADO_RR_QEMU_VERSION=V``; the versions take turns within a
round.  ``--minutes M`` is a time budget: no round starts that would end
after it (by the last round's length), and the results say so.

Usage: PYTHONPATH=. build/venv/bin/python benchmarks/soak.py
           [CASE[=RUNS] ...] [--runs 20] [--versions V ...] [--name NAME]
           [--minutes M]
       (CASE: an avocado reference, e.g.
        tests/avocado/replay_kernel.py:X86_64Pc=50)
       PYTHONPATH=. build/venv/bin/python benchmarks/soak.py --report RUN.json
           [RUN2.json ...]      (saved runs of the same code, pooled)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCHMARKS))

from bench_harness import ROOT, code_revision  # noqa: E402

from avocado_rr.avocado_ids import parse_test_id  # noqa: E402

KERNEL_SUITE = "tests/avocado/replay_kernel.py"
#: the suites of the default selection: one boot to a console line each
DEFAULT_SUITES = (KERNEL_SUITE, "tests/avocado/replay_firmware.py",
                  "tests/avocado/replay_baremetal.py")
LONG_CASE = f"{KERNEL_SUITE}:X86_64Pc"
DEFAULT_RUNS = 20
LONG_RUNS = 50
RESULTS = BENCHMARKS / "results"
JOBS = ROOT / "build" / "soak"
VERSION_ENV = "AVOCADO_RR_QEMU_VERSION"
#: z of a two-sided 95 % interval
Z95 = 1.959964


# -- statistics ------------------------------------------------------------

def wilson(failures: int, runs: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a failure rate (95 % by default)."""
    if runs <= 0:
        return (0.0, 1.0)
    rate = failures / runs
    denom = 1 + z * z / runs
    centre = (rate + z * z / (2 * runs)) / denom
    half = z * math.sqrt(rate * (1 - rate) / runs
                         + z * z / (4 * runs * runs)) / denom
    # exact at the ends, where rounding would leave the rate outside
    low = 0.0 if failures == 0 else max(0.0, centre - half)
    high = 1.0 if failures == runs else min(1.0, centre + half)
    return (low, high)


def spread(values) -> dict | None:
    """Median, min and max of the values that are not None."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values),
            "max": max(values), "n": len(values)}


def case_name(test: str) -> str:
    """``12-tests/x.py:Class.test;variant`` -> ``Class.test;variant``."""
    return parse_test_id(test).case.removesuffix(".test_record_replay")


def outcome(row: dict) -> tuple[str, str]:
    """(verdict class, Avocado status) of one summary row; a test with no
    record/replay verdict (an ERROR in setUp, say) counts by its status."""
    status = row.get("status") or "UNKNOWN"
    return (row.get("verdict") or status.lower(), status)


def where(row: dict) -> str:
    """A located failure in a few words: kind, interval, replays."""
    location = row["location"]
    total = location.get("recorded_icount") or 0

    def at(icount):
        if icount is None:
            return "start"
        return f"{icount} ({100.0 * icount / total:.1f}%)" if total \
            else str(icount)
    text = (f"round {row.get('round', '?')}: {location['kind']} "
            f"{at(location.get('last_equal_icount'))} .. "
            f"{at(location.get('first_different_icount'))}")
    if location.get("registers"):
        text += f" regs {','.join(location['registers'][:4])}"
    if location.get("page_count"):
        text += f" {location['page_count']} page(s)"
    if row.get("replays"):
        text += f" replays: {row['replays']}"
    return text


def summarize(rows: list[dict]) -> list[dict]:
    """One entry per (case, QEMU version) from the rows of every round.

    A run passes when its verdict is ``pass`` and Avocado says PASS; any
    other run is a failure, ``known`` when Avocado said WARN (a known
    failure that reproduced, see avocado_rr.testing.known_failure.KnownFailure).
    """
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        key = (case_name(row["test"]), row.get("version") or "")
        groups.setdefault(key, []).append(row)
    out = []
    for (case, version), runs in sorted(groups.items()):
        outcomes = [outcome(row) for row in runs]
        passes = sum(1 for o in outcomes if o == ("pass", "PASS"))
        failures = Counter(o for o in outcomes if o != ("pass", "PASS"))
        failed = len(runs) - passes
        low, high = wilson(failed, len(runs))
        out.append({
            "case": case, "version": version, "runs": len(runs),
            "passes": passes,
            "failures": [{"verdict": v, "status": s, "count": n}
                         for (v, s), n in sorted(failures.items())],
            "unexpected": sum(n for (_, s), n in failures.items()
                              if s != "WARN"),
            "failure_rate": failed / len(runs),
            "wilson95": [low, high],
            "record_time": spread(row.get("record_time") for row in runs),
            "replay_time": spread(row.get("replay_time") for row in runs),
            "qemu_versions": sorted({row["qemu_version"] for row in runs
                                     if row.get("qemu_version")}),
            "reasons": sorted({f"{v}: {row.get('reason') or ''}"[:300]
                               for row, (v, s) in zip(runs, outcomes)
                               if (v, s) != ("pass", "PASS")}),
            "checkpoints": sum((row.get("location") or {}).get("compared")
                               or 0 for row in runs),
            "transients": sum((row.get("location") or {}).get("transients")
                              or 0 for row in runs),
            "divergences": sum(1 for row in runs if (row.get("location")
                               or {}).get("kind") == "divergence"),
            "locations": [where(row) for row in runs
                          if (row.get("location") or {}).get("located")],
        })
    return out


def false_alarms(rows: list[dict]) -> dict:
    """What the state check said of the clean pairs (console and icount
    reproduced: a ``pass``, or a failure of the state check alone that no
    known failure explains): a divergence there is a false alarm of the
    checker unless shown real, so their count and its 95 % upper bounds,
    per pair and per checkpoint, measure how far it can be trusted."""
    clean = [row for row in rows if row.get("verdict") == "pass" or (
        # console and icount reproduced, only the state check failed,
        # and no known failure says why: a false alarm, or a finding
        row.get("verdict") == "diverged" and row.get("status") != "WARN"
        and (row.get("reason") or "").startswith("state check failed"))]
    per_case = Counter((case_name(row["test"]), row.get("version") or "")
                       for row in clean)
    located = [row.get("location") or {} for row in clean]
    checkpoints = sum(where.get("compared") or 0 for where in located)
    divergences = sum(1 for where in located
                      if where.get("kind") == "divergence")
    return {"pairs": len(clean), "cases": len(per_case),
            "pairs_per_case": [min(per_case.values(), default=0),
                               max(per_case.values(), default=0)],
            "checkpoints": checkpoints,
            "transients": sum(where.get("transients") or 0
                              for where in located),
            "divergences": divergences,
            "upper95_per_pair": wilson(divergences, len(clean))[1],
            "upper95_per_checkpoint": wilson(divergences, checkpoints)[1]}


def _fmt_spread(value: dict | None) -> str:
    if value is None:
        return "-"
    return (f"{value['median']:.1f} ({value['min']:.1f}-"
            f"{value['max']:.1f})")


def _fmt_failures(entry: dict) -> str:
    return ", ".join(f"{f['verdict']} x{f['count']} ({f['status']})"
                     for f in entry["failures"]) or "-"


def table(entries: list[dict]) -> str:
    """The per-case table (Markdown, as docs/findings.md quotes it)."""
    versioned = any(entry["version"] for entry in entries)
    head = ["case"] + (["QEMU"] if versioned else []) + [
        "runs", "pass", "failures (verdict x count (status))",
        "record s median (min-max)", "replay s median (min-max)",
        "failure rate [Wilson 95 %]"]
    lines = ["| " + " | ".join(head) + " |",
             "|" + "---|" * len(head)]
    for entry in entries:
        low, high = entry["wilson95"]
        cells = [entry["case"]] + ([entry["version"] or "default"]
                                   if versioned else []) + [
            str(entry["runs"]), str(entry["passes"]), _fmt_failures(entry),
            _fmt_spread(entry["record_time"]),
            _fmt_spread(entry["replay_time"]),
            f"{100 * entry['failure_rate']:.0f} % "
            f"[{100 * low:.1f}-{100 * high:.1f} %]"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cut_short(doc: dict) -> str:
    if doc.get("complete", True):
        return ""
    return f" (cut short: {doc['stopped']})" if doc.get("stopped") \
        else " (cut short)"


def report_text(doc: dict) -> str:
    """The table with what the run was and what failed unexpectedly."""
    entries = doc["summary"]
    versions = sorted({v for e in entries for v in e["qemu_versions"]})
    done = max((row.get("round", 0) for row in doc["rows"]), default=0)
    lines = [f"soak {doc['name']}: commit {doc['commit']} (code "
             f"{doc['code']}), {done} of {doc['rounds']} rounds"
             + _cut_short(doc) + ", "
             f"{sum(e['runs'] for e in entries)} runs, "
             f"{doc['wall_s'] / 60:.0f} min",
             "QEMU: " + ("; ".join(versions) or "-"), "",
             table(entries)]
    lines += ["", "state checkpoints: compared, transient, divergences "
              "(per case and version)"]
    for entry in entries:
        if entry.get("checkpoints"):
            lines.append(f"  {entry['case']} {entry['version'] or ''}: "
                         f"{entry['checkpoints']} compared, "
                         f"{entry['transients']} transient, "
                         f"{entry['divergences']} divergence(s)".rstrip())
        for located in entry.get("locations", []):
            lines.append(f"    {located}")
    alarms = false_alarms(doc["rows"])
    low, high = alarms["pairs_per_case"]
    lines += ["", f"false alarms: {alarms['divergences']} divergence(s) in "
              f"{alarms['pairs']} clean pairs ({alarms['cases']} cases, "
              f"{low}-{high} each), {alarms['checkpoints']} checkpoints "
              f"compared, {alarms['transients']} transients; 95 % upper "
              f"bound {100 * alarms['upper95_per_pair']:.1f} % a pair, "
              f"{100 * alarms['upper95_per_checkpoint']:.2f} % a "
              f"checkpoint"]
    unexpected = [e for e in entries if e["unexpected"]]
    lines += ["", f"unexpected failures (not a known failure): "
              f"{sum(e['unexpected'] for e in entries)}"]
    for entry in unexpected + [e for e in entries
                               if e not in unexpected and e["reasons"]]:
        lines.append(f"  {entry['case']}:")
        lines += [f"    {reason}" for reason in entry["reasons"]]
    return "\n".join(lines) + "\n"


def pool(docs: list[dict]) -> dict:
    """Saved runs of the same code as one: their rows, rounds numbered on
    from run to run, the summary made again."""
    codes = {doc["code"] for doc in docs}
    if len(codes) > 1:
        sys.exit(f"cannot pool runs of different code: "
                 f"{', '.join(sorted(codes))}")
    rows, offset = [], 0
    for doc in docs:
        rows += [dict(row, round=row.get("round", 0) + offset)
                 for row in doc["rows"]]
        offset += max((row.get("round", 0) for row in doc["rows"]),
                      default=0)
    first = docs[0]
    return dict(first, name="+".join(doc["name"] for doc in docs),
                commit="+".join(dict.fromkeys(doc["commit"] for doc in docs)),
                rounds=sum(doc["rounds"] for doc in docs),
                complete=all(doc.get("complete", True) for doc in docs),
                stopped="; ".join(doc["stopped"] for doc in docs
                                  if doc.get("stopped")) or None,
                wall_s=sum(doc["wall_s"] for doc in docs), rows=rows,
                summary=summarize(rows))


# -- running -----------------------------------------------------------------

def default_cases() -> list[str]:
    """Every case (class) of the default suites, as avocado references."""
    out = subprocess.run(
        [sys.executable, "-m", "avocado", "list", *DEFAULT_SUITES], cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True,
        text=True, check=True).stdout
    refs = [line.split()[-1] for line in out.splitlines()
            if line.startswith("avocado-rr-instrumented")]
    return [ref.rsplit(".", 1)[0] for ref in refs]


def parse_plan(cases: list[str], runs: int) -> dict[str, int]:
    """``REF[=N]`` arguments -> {reference: runs}; none: the default."""
    if not cases:
        plan = {ref: DEFAULT_RUNS for ref in default_cases()}
        plan[LONG_CASE] = LONG_RUNS
        return plan
    plan = {}
    for case in cases:
        ref, sep, count = case.partition("=")
        plan[ref] = int(count) if sep else runs
    return plan


def exact(ref: str) -> str:
    """``file.py:Class`` as a reference to that class only: Avocado's part
    after the colon is a regex searched in ``Class.method``, so that
    ``ArmVirt`` would also select ``ArmVirtCortexA7``."""
    path, sep, name = ref.partition(":")
    if sep and re.fullmatch(r"[A-Za-z_]\w*", name):
        return f"{path}:^{name}\\."
    return ref


def run_round(refs: list[str], results: Path, version: str | None,
              timeout: float, params: list[str] = ()) -> list[dict]:
    """One ``avocado run`` of ``refs`` (with test parameters ``params``,
    ``name=value``); the rows of its replay summary."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    if version:
        env[VERSION_ENV] = version
    argv = [sys.executable, "-m", "avocado", "run", "--disable-sysinfo",
            "--max-parallel-tasks=1", "--job-results-dir", str(results)]
    for param in params:
        argv += ["-p", param]
    argv += ["--", *map(exact, refs)]
    job = subprocess.Popen(argv, cwd=ROOT, env=env, text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        output, _ = job.communicate(timeout=timeout)
    except BaseException:
        # interrupted (or too long): end the job as Ctrl-C would, so that
        # its tests' tearDown stops their QEMU
        job.send_signal(signal.SIGTERM)
        job.communicate(timeout=60)
        raise
    summary = results / "latest" / "replay-summary.json"
    try:
        rows = json.loads(summary.read_text())["tests"]
    except (OSError, ValueError, KeyError):
        sys.exit(f"avocado run gave no replay summary (rc "
                 f"{job.returncode}):\n{output}")
    for row in rows:
        row["version"] = version or ""
    return rows


def soak(plan: dict[str, int], versions: list[str | None], name: str,
         timeout: float, save=lambda doc: None,
         minutes: float | None = None, params: list[str] = ()) -> dict:
    """Run the plan (each round once per version); the saved document.

    The versions take turns within a round, so that a soak cut short has
    as many rounds of each.  With ``minutes``, no round starts that the
    last round's length says would end after that budget: the document
    then says where it stopped.  ``save(doc)`` is called after every job
    with the document so far (``complete`` false until the last), so that
    a soak cut short keeps what it measured."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"],
                            cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    code = code_revision()
    jobs = JOBS / f"{time.strftime('%Y%m%dT%H%M%S')}-{name}"
    rows: list[dict] = []
    start = time.monotonic()
    deadline = None if minutes is None else start + 60 * minutes
    rounds = max(plan.values())
    stopped = None

    def document(complete: bool) -> dict:
        return {"name": name, "commit": commit, "code": code,
                "plan": plan, "versions": [v or "" for v in versions],
                "params": list(params),
                "rounds": rounds, "complete": complete, "stopped": stopped,
                "wall_s": time.monotonic() - start, "jobs": str(jobs),
                "rows": rows, "summary": summarize(rows)}
    last_round_s = 0.0
    for round_ in range(rounds):
        round_start = time.monotonic()
        if deadline is not None and round_start + last_round_s > deadline:
            stopped = (f"time budget of {minutes:g} min: round "
                       f"{round_ + 1} would not end within it")
            break
        refs = [ref for ref, count in plan.items() if count > round_]
        for version in versions:
            new = run_round(refs, jobs / (version or "default"), version,
                            timeout, params)
            for row in new:
                row["round"] = round_ + 1
            rows += new
            print(f"{version or 'default'} round {round_ + 1}/{rounds}: "
                  + ", ".join(f"{case_name(r['test'])} {outcome(r)[0]}"
                              for r in new), file=sys.stderr, flush=True)
            save(document(False))
        last_round_s = time.monotonic() - round_start
    doc = document(stopped is None)
    save(doc)
    return doc


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", metavar="CASE[=RUNS]",
                        help="avocado references (default: every kernel, "
                             "firmware and bare-metal "
                             f"case x{DEFAULT_RUNS}, X86_64Pc x{LONG_RUNS})")
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS,
                        help="runs of a CASE given without =RUNS")
    parser.add_argument("--versions", nargs="+", metavar="V", default=[],
                        help=f"QEMU versions, taking turns each round "
                             f"({VERSION_ENV})")
    parser.add_argument("--name", default="default",
                        help="names the results files")
    parser.add_argument("--minutes", type=float,
                        help="time budget: start no round that would end "
                             "after it (the last round's length decides)")
    parser.add_argument("--job-timeout", type=float, default=7200,
                        help="seconds one round's avocado run may take")
    parser.add_argument("-p", "--param", action="append", default=[],
                        metavar="NAME=VALUE",
                        help="a test parameter for every run (e.g. "
                             "replays=3, checkpoints=0)")
    parser.add_argument("--report", metavar="JSON", nargs="+",
                        help="run nothing: print the report of saved runs "
                             "(several: of the same code, taken together)")
    args = parser.parse_args(argv)
    if args.report:
        print(report_text(pool([json.loads(Path(path).read_text())
                                for path in args.report])), end="")
        return 0
    signal.signal(signal.SIGTERM, _interrupt)
    saved = []

    def save(doc: dict) -> None:
        RESULTS.mkdir(exist_ok=True)
        stem = RESULTS / f"soak-{doc['commit']}-{args.name}"
        # not with_suffix: a name such as "s390x-10.0-state" has a "."
        Path(f"{stem}.json").write_text(json.dumps(doc, indent=1,
                                                   default=str) + "\n")
        Path(f"{stem}.txt").write_text(report_text(doc))
        saved[:] = [stem]
    doc = soak(parse_plan(args.cases, args.runs), args.versions or [None],
               args.name, args.job_timeout, save, args.minutes, args.param)
    print(report_text(doc), end="")
    print(f"saved {saved[0]}.json and .txt; job results in {doc['jobs']}")
    return 1 if any(entry["unexpected"] for entry in doc["summary"]) else 0


if __name__ == "__main__":
    sys.exit(main())
