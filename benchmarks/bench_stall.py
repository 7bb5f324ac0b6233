#!/usr/bin/env python3
"""Time from a replay's last icount progress to its 'stalled' verdict.

Records the quick x86_64 pc case once, then replays it ``--runs`` times;
each replay is frozen with SIGSTOP at a random share of the recording
(drawn from a seeded generator) and the time from the freeze (the
replay's last possible progress) to the verdict is measured. Prints each
run, the median and the maximum (goal: median <= 10 s with the default
stall timeout of 5 s).

Usage: PYTHONPATH=. build/venv/bin/python benchmarks/bench_stall.py
           [--runs 5] [--stall-timeout 5]
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from avocado_rr import assets  # noqa: E402
from avocado_rr.engine import RecordReplay  # noqa: E402
from avocado_rr.pair import BootSpec  # noqa: E402
from avocado_rr.qemu_binary import find_qemu  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--stall-timeout", type=float, default=5.0)
    args = parser.parse_args()
    qemu = find_qemu("x86_64")
    spec = BootSpec(arch="x86_64", machine="pc",
                    kernel=os.fspath(assets.resolve_asset("kernel-x86_64")),
                    append="console=ttyS0 printk.time=0", shift=7)
    rng = random.Random(1)
    delays = []
    with tempfile.TemporaryDirectory(prefix="rr-stall-") as tmp:
        recording = RecordReplay(qemu, tmp).record(
            spec, "Kernel command line", timeout=120)
        for run in range(args.runs):
            engine = RecordReplay(qemu, os.path.join(tmp, f"run{run}"))
            freeze_at = int(recording.icount * rng.uniform(0.2, 0.8))
            frozen: list[float] = []

            def progress(icount, target, engine=engine, frozen=frozen,
                         freeze_at=freeze_at):
                if icount >= freeze_at and not frozen and engine.active:
                    os.kill(engine.active.proc.pid, signal.SIGSTOP)
                    frozen.append(time.monotonic())
            verdict = engine.replay(recording, timeout=120,
                                    stall_timeout=args.stall_timeout,
                                    progress=progress)
            if not frozen or verdict.verdict != "stalled":
                print(f"run {run + 1}: replay finished before the freeze "
                      f"({verdict.verdict}); not counted")
                continue
            delays.append(time.monotonic() - frozen[0])
            print(f"run {run + 1}: frozen at icount >= {freeze_at}, "
                  f"'stalled' after {delays[-1]:.2f}s "
                  f"(event {verdict.event_index} {verdict.event_name})",
                  flush=True)
    if not delays:
        print("no run was frozen")
        return 1
    print(f"\nstall timeout {args.stall_timeout}s: median "
          f"{statistics.median(delays):.2f}s, max {max(delays):.2f}s over "
          f"{len(delays)} runs (goal: median <= 10 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
