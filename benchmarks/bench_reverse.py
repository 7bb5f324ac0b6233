#!/usr/bin/env python3
"""Reverse debugging's cost per step, against the ways avocado-rr
talked to gdb before.

Records one aarch64 virt kernel boot with a snapshot image (``nokaslr``,
stopped after ``kernel_init``), then runs the reverse-debugging scenario
of :mod:`avocado_rr.reverse` (``--steps`` stepi, as many reverse-stepi,
the stepi again, reverse-continue to a breakpoint and a watchpoint) over
it ``--rounds`` times with each contender:

* **avocado-rr**: as it is: each MI record is read as soon as gdb
  prints it (:meth:`avocado_rr.gdb.Gdb._more`), pygdbmi's DEBUG
  formatting deferred (:func:`avocado_rr.gdb._defer_pygdbmi_formatting`);
* **quiet-wait**: reading as pygdbmi does, until gdb has printed nothing
  for 10 ms (``time_to_check_for_additional_output_sec``), on every
  command (avocado-rr before 2026-12-08);
* **eager**: quiet-wait, and pygdbmi 0.11.0.0 formatting every record
  with ``pprint.pformat`` (avocado-rr before 2239ced).

The contenders take turns, in a rotating order, on the same recording.
Prints per-step milliseconds (forward, reverse), wall and CPU seconds
of each run, and each contender's medians as a ratio to avocado-rr's.

Usage: PYTHONPATH=. build/venv/bin/python benchmarks/bench_reverse.py
           [--steps 100] [--rounds 2] [--contenders avocado-rr quiet-wait]
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


def _quiet_wait_more(self, timeout: float) -> list[dict]:
    """Gdb._more as it was: pygdbmi reads until gdb is quiet for 10 ms."""
    self._gdb.io_manager.time_to_check_for_additional_output_sec = 0.01
    try:
        return self._gdb.get_gdb_response(timeout_sec=timeout,
                                          raise_error_on_timeout=False)
    except Exception as details:  # pylint: disable=broad-except
        raise gdb.GdbError(f"gdb is gone: {details}") from details


CONTENDERS = ("avocado-rr", "quiet-wait", "eager")


def one_run(engine, recording, address: int, steps: int,
            contender: str) -> dict:
    more, defer = gdb.Gdb._more, gdb._defer_pygdbmi_formatting
    from pygdbmi import IoManager
    formatter = IoManager.pformat
    if contender in ("quiet-wait", "eager"):
        gdb.Gdb._more = _quiet_wait_more
    if contender == "eager":
        from pprint import pformat
        IoManager.pformat = pformat
        gdb._defer_pygdbmi_formatting = lambda: None
    try:
        wall, cpu = time.monotonic(), time.process_time()
        report = ReverseDebugging(engine, recording).run(address, steps)
        wall, cpu = time.monotonic() - wall, time.process_time() - cpu
    finally:
        gdb.Gdb._more, gdb._defer_pygdbmi_formatting = more, defer
        IoManager.pformat = formatter
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
    parser.add_argument("--contenders", nargs="+", choices=CONTENDERS,
                        default=["avocado-rr", "quiet-wait"])
    args = parser.parse_args(argv)
    names = list(dict.fromkeys(["avocado-rr"] + args.contenders))
    with tempfile.TemporaryDirectory(prefix="bench-reverse-") as outdir:
        engine, recording, address = record(outdir)
        runs: dict[str, list[dict]] = {name: [] for name in names}
        for round_number in range(args.rounds):
            shift = round_number % len(names)
            for name in names[shift:] + names[:shift]:
                result = one_run(engine, recording, address, args.steps,
                                 name)
                runs[name].append(result)
                print(f"round {round_number + 1} {name}: " + ", ".join(
                    f"{key} {value:.1f}" for key, value in result.items()),
                    flush=True)
        engine.close()
    medians = {name: {key: statistics.median(r[key] for r in results)
                      for key in results[0]}
               for name, results in runs.items()}
    print(f"{args.steps} steps, {args.rounds} rounds, medians "
          f"(ratio: to avocado-rr):")
    reference = medians["avocado-rr"]
    for key in reference:
        print(f"  {key:10} " + "  ".join(
            f"{name} {medians[name][key]:7.1f}" +
            ("" if name == "avocado-rr" else
             f" ({medians[name][key] / reference[key]:.2f}x)")
            for name in names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
