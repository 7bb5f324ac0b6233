#!/usr/bin/env python3
"""Reverse debugging's cost per step, and what deferring pygdbmi's
formatting saves.

Records one aarch64 virt kernel boot with a snapshot image (``nokaslr``,
stopped after ``kernel_init``), then runs the reverse-debugging scenario
of :mod:`avocado_rr.reverse` (``--steps`` stepi, as many reverse-stepi,
the stepi again, reverse-continue to a breakpoint and a watchpoint) over
it ``--rounds`` times with each of:

* **deferred**: avocado-rr as it is (:func:`avocado_rr.gdb.
  _defer_pygdbmi_formatting`: pygdbmi's DEBUG ``pprint.pformat`` of every
  MI record runs only if logged);
* **eager**: pygdbmi 0.11.0.0 as shipped, formatting every record.

The two alternate, in turns, on the same recording.  Prints per-step
milliseconds (forward, reverse), wall and CPU seconds of each run, and
the ratio eager/deferred of the medians.

Usage: PYTHONPATH=. build/venv/bin/python benchmarks/bench_reverse.py
           [--steps 100] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

from avocado_rr import assets, devices, gdb, ksyms, targets
from avocado_rr.engine import RecordReplay
from avocado_rr.pair import BootSpec
from avocado_rr.qemu_binary import find_qemu
from avocado_rr.reverse import ReverseDebugging

ARCH = "aarch64"
PATTERN = "evm: HMAC attrs"


def record(outdir: str):
    """The engine and a recording of the aarch64 boot, and the address
    of kernel_init."""
    row = targets.target(ARCH)
    kernel = os.fspath(assets.resolve_asset(row.kernel_asset))
    symbols = ksyms.kernel_symbols(kernel, row.bits,
                                   base=row.kallsyms_base)
    address = ksyms.address(symbols, "kernel_init") + row.entry_offset
    spec = BootSpec(
        arch=ARCH, machine="virt", cpu="cortex-a57", kernel=kernel,
        append=f"printk.time=1 console={row.console} {ksyms.NOKASLR}",
        extra_args=devices.rrsnapshot_drive(
            os.path.join(outdir, "rrsnapshot.qcow2")),
        rrsnapshot="init")
    engine = RecordReplay(find_qemu(ARCH), os.path.join(outdir, "pair"))
    return engine, engine.record(spec, PATTERN, timeout=300), address


def one_run(engine, recording, address: int, steps: int,
            deferred: bool) -> dict:
    original = gdb._defer_pygdbmi_formatting
    if not deferred:
        from pygdbmi import IoManager
        from pprint import pformat
        IoManager.pformat = pformat
        gdb._defer_pygdbmi_formatting = lambda: None
    try:
        wall, cpu = time.monotonic(), time.process_time()
        report = ReverseDebugging(engine, recording).run(address, steps)
        wall, cpu = time.monotonic() - wall, time.process_time() - cpu
    finally:
        gdb._defer_pygdbmi_formatting = original
    if not report.passed:
        raise SystemExit(f"the scenario failed: {report.problems[:3]}")
    facts = report.facts
    return {"wall": wall, "cpu": cpu,
            "forward_ms": 1000 * facts["forward_s"] / steps,
            "reverse_ms": 1000 * facts["reverse_s"] / facts["reverse_steps"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-reverse-") as outdir:
        engine, recording, address = record(outdir)
        runs: dict[str, list[dict]] = {"deferred": [], "eager": []}
        for round_number in range(args.rounds):
            order = ("deferred", "eager") if round_number % 2 == 0 \
                else ("eager", "deferred")
            for name in order:
                result = one_run(engine, recording, address, args.steps,
                                 name == "deferred")
                runs[name].append(result)
                print(f"round {round_number + 1} {name}: " + ", ".join(
                    f"{key} {value:.1f}" for key, value in result.items()),
                    flush=True)
        engine.close()
    medians = {name: {key: statistics.median(r[key] for r in results)
                      for key in results[0]}
               for name, results in runs.items()}
    print(f"{args.steps} steps, {args.rounds} rounds, medians:")
    for key in medians["deferred"]:
        eager, deferred = medians["eager"][key], medians["deferred"][key]
        print(f"  {key:10} eager {eager:8.1f}  deferred {deferred:8.1f}  "
              f"eager/deferred {eager / deferred:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
