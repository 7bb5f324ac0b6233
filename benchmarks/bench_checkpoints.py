#!/usr/bin/env python3
"""What a state checkpoint costs, against guest RAM size.

For each RAM size, an x86_64 pc kernel boot is recorded (the suite's
kernel) and paused ``--pauses`` times, half a second apart.  At each
pause is timed:

* **checkpoint**: what avocado-rr takes (``statecheck.state_probes``:
  icount, ``info registers``, console length, the CRC-32 of every
  touched RAM page read in place);
* **pmemsave**: the reference, the way the issue first measured it:
  ``pmemsave`` of all of RAM to a file on /dev/shm, then a hash of
  every page of it (CRC-32 here, which is faster than the first
  measurement's sha256: the reference is the copy, not the hash).

Each in a recording of its own (a pmemsave reads all of RAM, which
allocates every page of a RAM file and would slow the checkpoints
after it), with the same pauses.

Prints per size the median milliseconds of each, their ratio, and the
RAM the guest had touched.  ``--save`` keeps the run as JSON.

Usage: PYTHONPATH=. build/venv/bin/python benchmarks/bench_checkpoints.py
           [--sizes 256M 512M 1G 2G] [--pauses 6] [--save RUN.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from avocado_rr import assets  # noqa: E402
from avocado_rr.guestram import PAGE, GuestRam, ram_bytes  # noqa: E402
from avocado_rr.machine import QemuMachine  # noqa: E402
from avocado_rr.pair import BootSpec, qemu_argv  # noqa: E402
from avocado_rr.probes import take  # noqa: E402
from avocado_rr.qemu_binary import find_qemu  # noqa: E402
from avocado_rr.statecheck import state_probes  # noqa: E402


def pmemsave_digests(machine: QemuMachine, size: int, path: str) -> int:
    """The reference: all of RAM to a file, every page hashed; pages."""
    machine.cmd("pmemsave", val=0, size=size, filename=path)
    pages = 0
    with open(path, "rb") as dump:
        view = memoryview(dump.read())
    for offset in range(0, len(view), PAGE):
        zlib.crc32(view[offset:offset + PAGE])
        pages += 1
    view.release()
    os.unlink(path)
    return pages


def measure(memory: str, pauses: int, workdir: str, method: str) -> dict:
    """One recording of the boot with ``pauses`` pauses, each timing
    ``method`` (``checkpoint`` or ``pmemsave``): in runs of their own,
    since a pmemsave reads all of RAM, which allocates every page of a
    RAM file and would slow the checkpoints after it."""
    qemu = find_qemu("x86_64")
    spec = BootSpec(arch="x86_64", machine="pc", memory=memory,
                    kernel=os.fspath(assets.resolve_asset("kernel-x86_64")),
                    append="console=ttyS0 printk.time=1", shift=7)
    ram = GuestRam(memory, "bench") if method == "checkpoint" else None
    console = os.path.join(workdir, f"{memory}.console")
    argv = qemu_argv(qemu, spec, "record", os.path.join(workdir, "x.bin"),
                     console) + (ram.qemu_args() if ram else [])
    machine = QemuMachine(argv, workdir, f"bench-{memory}")
    times, touched = [], []
    # x86 pc maps RAM below its PCI hole up to ~3 GiB
    size = min(ram_bytes(memory), 0xb0000000)
    try:
        machine.launch()
        machine.cmd("cont")
        probes = state_probes(ram, console)
        for _ in range(pauses):
            time.sleep(0.5)
            machine.cmd("stop")
            start = time.perf_counter()
            if ram:
                checkpoint = take(machine, probes, machine.cmd(
                    "query-replay")["icount"], "bench")
                touched.append(checkpoint.values["ram"]["pages"])
            else:
                pmemsave_digests(machine, size, os.path.join(
                    "/dev/shm", f"bench-pmem-{os.getpid()}"))
            times.append(time.perf_counter() - start)
            machine.cmd("cont")
    finally:
        machine.kill(grace=0)
        if ram:
            ram.close()
    return {"times_s": times, "touched_pages": touched}


def report(runs: list[dict]) -> str:
    lines = ["| RAM | checkpoint ms (median) | pmemsave + hash ms (median) "
             "| pmemsave / checkpoint | touched RAM MiB |",
             "|---|---|---|---|---|"]
    for run in runs:
        ours = statistics.median(run["checkpoint_s"]) * 1000
        ref = statistics.median(run["pmemsave_s"]) * 1000
        touched = statistics.median(run["touched_pages"]) * PAGE / 2 ** 20
        lines.append(f"| {run['memory']} | {ours:.0f} | {ref:.0f} | "
                     f"{ref / ours:.1f}x | {touched:.0f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+",
                        default=["256M", "512M", "1G", "2G"])
    parser.add_argument("--pauses", type=int, default=6)
    parser.add_argument("--save", metavar="RUN.json")
    args = parser.parse_args()
    runs = []
    with tempfile.TemporaryDirectory(prefix="rr-bench-cp-") as workdir:
        for memory in args.sizes:
            ours = measure(memory, args.pauses, workdir, "checkpoint")
            reference = measure(memory, args.pauses, workdir, "pmemsave")
            runs.append({"memory": memory, "checkpoint_s": ours["times_s"],
                         "pmemsave_s": reference["times_s"],
                         "touched_pages": ours["touched_pages"]})
            print(report(runs[-1:]).splitlines()[-1], flush=True)
    text = report(runs)
    print(text)
    if args.save:
        Path(args.save).write_text(json.dumps(runs, indent=1) + "\n")
        Path(args.save).with_suffix(".txt").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
