#!/usr/bin/env python3
"""Find record/replay kernel boot cases that work on this machine's QEMU.

For each case: record with ``-icount shift=N,rr=record`` until a console
line appears, stop through QMP (``stop``, ``query-replay``, ``quit``),
replay with the same arguments and ``rr=replay``, and compare the two
console transcripts. Prints one markdown table row per case and writes
the results as JSON. Kernels come from the asset catalogue
(configs/assets.yaml), fetched offline from Debian.

Usage (from the repository root)::

    build/venv/bin/python docs/explore-kernels.py [--pattern REGEX]
        [--json out.json] [CASE ...]

Only one QEMU runs at a time, and each is killed when its phase ends.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qemu.qmp.legacy import QEMUMonitorProtocol  # noqa: E402

from avocado_rr.assets import Catalogue  # noqa: E402

BASE_APPEND = "printk.time=1 panic=-1"

#: name: (binary, machine, cpu, memory MB, asset, console=, extra args)
CASES = {
    "x86_64-pc": ("qemu-system-x86_64", "pc", None, 512,
                  "kernel-x86_64", "ttyS0", []),
    "x86_64-q35": ("qemu-system-x86_64", "q35", None, 512,
                   "kernel-x86_64", "ttyS0", []),
    "x86_64-microvm": ("qemu-system-x86_64", "microvm", None, 512,
                       "kernel-x86_64", "ttyS0", []),
    "i386-pc": ("qemu-system-i386", "pc", None, 512,
                "kernel-i386", "ttyS0", []),
    "i386-q35": ("qemu-system-i386", "q35", None, 512,
                 "kernel-i386", "ttyS0", []),
    "aarch64-virt-a57": ("qemu-system-aarch64", "virt", "cortex-a57", 512,
                         "kernel-aarch64", "ttyAMA0", []),
    "aarch64-virt-max": ("qemu-system-aarch64", "virt", "max", 512,
                         "kernel-aarch64", "ttyAMA0", []),
    "aarch64-virt-a53": ("qemu-system-aarch64", "virt", "cortex-a53", 512,
                         "kernel-aarch64", "ttyAMA0", []),
    "aarch64-virt-a72": ("qemu-system-aarch64", "virt", "cortex-a72", 512,
                         "kernel-aarch64", "ttyAMA0", []),
    "arm-virt-a15": ("qemu-system-arm", "virt", "cortex-a15", 512,
                     "kernel-armhf", "ttyAMA0", []),
    "arm-virt-a7": ("qemu-system-arm", "virt", "cortex-a7", 512,
                    "kernel-armhf", "ttyAMA0", []),
    "ppc64-pseries": ("qemu-system-ppc64", "pseries", None, 512,
                      "kernel-ppc64el", "hvc0", []),
    "ppc64-powernv": ("qemu-system-ppc64", "powernv", None, 1024,
                      "kernel-ppc64el", "hvc0", []),
    "s390x-ccw": ("qemu-system-s390x", "s390-ccw-virtio", None, 512,
                  "kernel-s390x", "sclp0", []),
    "mips64el-malta": ("qemu-system-mips64el", "malta", "5KEc", 256,
                       "kernel-mips64el", "ttyS0", []),
    "mipsel-malta": ("qemu-system-mipsel", "malta", None, 256,
                     "kernel-mipsel", "ttyS0", []),
}


def qemu_args(case: tuple, kernel: Path, console_file: Path,
              qmp_sock: Path, mode: str, rrfile: Path, shift: int) -> list:
    binary, machine, cpu, mem, _, console, extra = case
    args = [binary, "-nodefaults", "-display", "none", "-no-reboot",
            "-machine", machine, "-m", str(mem)]
    if cpu:
        args += ["-cpu", cpu]
    args += ["-chardev", f"file,id=con,path={console_file}",
             "-serial", "chardev:con",
             "-kernel", str(kernel),
             "-append", f"{BASE_APPEND} console={console}",
             "-net", "none",
             "-qmp", f"unix:{qmp_sock},server=on,wait=off",
             "-icount", f"shift={shift},rr={mode},rrfile={rrfile}"]
    return args + list(extra)


def wait_for(proc: subprocess.Popen, console: Path, pattern: str,
             timeout: float) -> bool:
    """Poll the console file until ``pattern`` matches or QEMU exits."""
    regex = re.compile(pattern.encode())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if console.exists() and regex.search(console.read_bytes()):
            return True
        if proc.poll() is not None:
            return bool(regex.search(console.read_bytes())) \
                if console.exists() else False
        time.sleep(0.05)
    return False


def qmp_connect(sock: Path, timeout: float = 10.0) -> QEMUMonitorProtocol:
    deadline = time.monotonic() + timeout
    while True:
        try:
            qmp = QEMUMonitorProtocol(str(sock))
            qmp.connect()
            return qmp
        except Exception:  # noqa: BLE001 - socket not there yet
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def run_case(name: str, cat: Catalogue, pattern: str, shift: int,
             timeout: float, workdir: Path) -> dict:
    case = CASES[name]
    kernel = cat.fetch(case[4])
    rrfile = workdir / f"{name}.bin"
    res = {"case": name, "binary": case[0], "machine": case[1],
           "cpu": case[2] or "(default)", "memory": case[3],
           "console": case[5], "asset": case[4],
           "append": f"{BASE_APPEND} console={case[5]}",
           "pattern": pattern, "shift": shift, "ok": False}
    transcripts = {}
    for mode in ("record", "replay"):
        console = workdir / f"{name}-{mode}.log"
        sock = Path(tempfile.gettempdir()) / f"xk-{os.getpid()}.qmp"
        for stale in (console, sock):
            if stale.exists():
                stale.unlink()
        args = qemu_args(case, kernel, console, sock, mode, rrfile, shift)
        res["cmdline"] = " ".join(args)
        start = time.monotonic()
        proc = subprocess.Popen(args, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            if mode == "record":
                found = wait_for(proc, console, pattern, timeout)
                if not found:
                    kill(proc)
                    res["error"] = (f"record: pattern not seen (exit "
                                    f"{proc.returncode}): "
                                    f"{proc.stderr.read().strip()}")
                    res["record_tail"] = console.read_text(
                        errors="replace")[-300:] if console.exists() else ""
                    return res
                try:
                    qmp = qmp_connect(sock, timeout=2)
                except Exception:  # noqa: BLE001 - gone already?
                    if proc.poll() is None:
                        raise
                    # e.g. panic=-1 -no-reboot right after the pattern
                    res["ended_by"] = f"guest (exit {proc.returncode})"
                else:
                    qmp.cmd("stop")
                    res["icount"] = qmp.cmd("query-replay").get("icount")
                    try:
                        qmp.cmd("quit")
                    except Exception:  # noqa: BLE001 - quit closes it
                        pass
                    qmp.close()
                    res["ended_by"] = "qmp quit"
                proc.wait(timeout=30)
            else:
                try:
                    proc.wait(timeout=timeout * 4)
                except subprocess.TimeoutExpired:
                    kill(proc)
                    res["error"] = "replay did not finish (hang?)"
            res[f"{mode}_s"] = round(time.monotonic() - start, 1)
            res[f"{mode}_rc"] = proc.returncode
            res[f"{mode}_stderr"] = proc.stderr.read().strip()
        finally:
            kill(proc)
        transcripts[mode] = console.read_bytes() if console.exists() else b""
    res["log_bytes"] = rrfile.stat().st_size
    res["console_bytes"] = len(transcripts["record"])
    res["identical"] = transcripts["record"] == transcripts["replay"]
    res["replay_has_pattern"] = bool(
        re.search(pattern.encode(), transcripts["replay"]))
    res["ok"] = res["identical"] and res["replay_has_pattern"] \
        and "error" not in res
    if not res["identical"]:
        res["diff_at"] = next((i for i, (a, b) in enumerate(
            zip(transcripts["record"], transcripts["replay"])) if a != b),
            min(map(len, transcripts.values())))
    rrfile.unlink()
    return res


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", default=list(CASES),
                        help=f"cases (default all): {', '.join(CASES)}")
    parser.add_argument("--pattern", default="Kernel command line")
    parser.add_argument("--shift", type=int, default=None,
                        help="icount shift (default: per-case guess)")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--json", default="/tmp/kernel-cases.json")
    parser.add_argument("--keep", action="store_true",
                        help="keep the work directory (console logs)")
    opts = parser.parse_args()
    cat = Catalogue.load()
    workdir = Path(tempfile.mkdtemp(prefix="explore-kernels-"))
    results = []
    try:
        for name in opts.cases:
            shift = opts.shift if opts.shift is not None else (
                7 if CASES[name][0].endswith(("x86_64", "i386", "ppc64",
                                              "s390x")) else 5)
            try:
                res = run_case(name, cat, opts.pattern, shift, opts.timeout,
                               workdir)
            except Exception as exc:  # noqa: BLE001 - report and go on
                res = {"case": name, "ok": False, "error": repr(exc)}
            results.append(res)
            print(f"| {name} | {res.get('ok')} | shift {res.get('shift')} "
                  f"| rec {res.get('record_s')} s | rep "
                  f"{res.get('replay_s')} s | log {res.get('log_bytes')} "
                  f"| icount {res.get('icount')} | "
                  f"{res.get('error', '')} "
                  f"{res.get('record_stderr', '')} "
                  f"{res.get('replay_stderr', '')} |", flush=True)
    finally:
        Path(opts.json).write_text(json.dumps(results, indent=1))
        if not opts.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"work directory: {workdir}")
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
