#!/usr/bin/env python3
"""Record/replay speed per QEMU version: the same kernel case on each.

Runs one kernel boot (default: x86_64 pc, Debian's cloud kernel, to the
root-mount panic, ``-icount shift=7``) through ``avocado_rr.engine`` on
each QEMU version of ``configs/qemu.yaml`` (Debian's builds, fetched into
the asset cache), ``--rounds`` times, rotating the order of the versions
from round to round. Prints, per version, the median record and replay
times and their ratios against the first version given (default 7.2):
the median of the per-round ratios, so a slow moment of the machine
weighs on every version of that round alike. A QEMU developer reads
whether record/replay got slower or faster between releases.

Every round's verdict is printed too: a version whose pair does not
pass is reported, not timed silently.

Usage: PYTHONPATH=. build/venv/bin/python benchmarks/bench_versions.py
           [--versions 7.2 10.0 11.1] [--rounds 5] [--save run.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from avocado_rr import assets, qemu_builds  # noqa: E402
from avocado_rr.engine import RecordReplay  # noqa: E402
from avocado_rr.pair import BootSpec  # noqa: E402
from avocado_rr.qemu_binary import find_qemu  # noqa: E402
from bench_harness import code_revision  # noqa: E402

#: the case: what tests/avocado/replay_kernel.py's X86_64Pc runs
ARCH, MACHINE = "x86_64", "pc"
APPEND = "printk.time=1 console=ttyS0"
PATTERN = "VFS: Cannot open root device"


def run_pair(version: str, workdir: Path) -> dict:
    """One record/replay pair of the case on QEMU ``version``."""
    qemu = find_qemu(ARCH, qemu_version=version)
    spec = BootSpec(arch=ARCH, machine=MACHINE, append=APPEND, shift=7,
                    kernel=os.fspath(assets.resolve_asset("kernel-x86_64")))
    outdir = Path(tempfile.mkdtemp(prefix=f"{version}-", dir=workdir))
    engine = RecordReplay(qemu, os.fspath(outdir))
    try:
        verdict = engine.check(spec, PATTERN, timeout=300)
    finally:
        engine.close()
    return {"version": version, "qemu": qemu.version_line,
            "verdict": verdict.verdict, "reason": verdict.reason,
            "record": verdict.record_time, "replay": verdict.replay_time,
            "icount": verdict.recorded_icount}


def report(versions: list[str], rounds: list[list[dict]]) -> None:
    """Medians per version and the median per-round ratios to the first."""
    base = versions[0]
    print(f"\n{len(rounds)} rounds, x86_64 pc kernel boot; ratios are "
          f"medians of per-round ratios against QEMU {base}")
    print(f"{'QEMU':8} {'record s':>9} {'replay s':>9} "
          f"{'record/' + base:>12} {'replay/' + base:>12}  verdicts")
    for version in versions:
        runs = [r for rnd in rounds for r in rnd if r["version"] == version]
        timed = [r for r in runs if r["verdict"] == "pass"]
        verdicts = ", ".join(sorted({r["verdict"] for r in runs}))
        ratios = {}
        for phase in ("record", "replay"):
            per_round = []
            for rnd in rounds:
                cell = {r["version"]: r for r in rnd}
                mine, ref = cell.get(version), cell.get(base)
                if mine and ref and mine["verdict"] == ref["verdict"] == \
                        "pass":
                    per_round.append(mine[phase] / ref[phase])
            ratios[phase] = statistics.median(per_round) if per_round \
                else float("nan")
        def med(phase):
            return statistics.median(r[phase] for r in timed) if timed \
                else float("nan")
        print(f"{version:8} {med('record'):9.2f} {med('replay'):9.2f} "
              f"{ratios['record']:12.3f} {ratios['replay']:12.3f}  "
              f"{verdicts} ({len(timed)}/{len(runs)} pass)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--versions", nargs="+",
                        default=["7.2", "10.0", "11.1"], metavar="VERSION",
                        help="QEMU versions; the first is the reference")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--save", metavar="JSON",
                        help="also write every round's times to JSON")
    args = parser.parse_args()
    qemu_builds.selected(args.versions)
    code = code_revision()
    rounds: list[list[dict]] = []
    with tempfile.TemporaryDirectory(prefix="bench-versions-") as workdir:
        for index in range(args.rounds):
            shift = index % len(args.versions)
            order = args.versions[shift:] + args.versions[:shift]
            results = []
            for version in order:
                result = run_pair(version, Path(workdir))
                results.append(result)
                print(f"round {index + 1}: QEMU {version}: "
                      f"{result['verdict']} record {result['record'] or 0:.2f}"
                      f" s, replay {result['replay'] or 0:.2f} s", flush=True)
            rounds.append(results)
    report(args.versions, rounds)
    if args.save:
        Path(args.save).write_text(json.dumps(
            {"case": f"{ARCH} {MACHINE}", "code": code,
             "versions": args.versions, "rounds": rounds}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
