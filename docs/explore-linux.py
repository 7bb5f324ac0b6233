#!/usr/bin/env python3
"""Record and replay full Linux boots with disk, network and a config ISO.

Exploration script behind docs/linux-cases.md (re-runnable): for each
case it takes the kernel and busybox-static of the asset catalogue
(configs/assets.yaml + assets.lock, fetched and cached by
avocado_rr.assets), builds the avocado-rr initramfs and a NoCloud ISO, starts an HTTP server on 127.0.0.1, records
the boot with ``-icount ...,rr=record``, stops the server, replays with
``rr=replay`` and compares the console transcripts and markers.

    build/venv/bin/python docs/explore-linux.py x86_64-pc q35 ...
    build/venv/bin/python docs/explore-linux.py --tx bh --repeat 3 x86_64-pc

Run from the repository root.  One QEMU runs at a time; each run has a
wall timeout after which QEMU is killed.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import http.server
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from avocado_rr import assets  # noqa: E402
from avocado_rr.guest import cidata, initramfs  # noqa: E402

SCSI_CD = ["-device", "virtio-scsi-pci,id=scsi0",
           "-device", "scsi-cd,drive=cd,bus=scsi0.0"]
IDE_CD = ["-device", "ide-cd,drive=cd"]

CASES = {
    # name: (QEMU target, machine args, console, cdrom device args)
    "x86_64-pc": ("x86_64", ["-machine", "pc"], "ttyS0", IDE_CD),
    # the catalogue's cloud-amd64 kernel has no AHCI driver (q35's IDE)
    "x86_64-q35": ("x86_64", ["-machine", "q35"], "ttyS0", SCSI_CD),
    "i386-pc": ("i386", ["-machine", "pc"], "ttyS0", IDE_CD),
    "i386-q35-ide": ("i386", ["-machine", "q35"], "ttyS0", IDE_CD),
    "aarch64-virt": ("aarch64", ["-machine", "virt", "-cpu", "cortex-a57"],
                     "ttyAMA0", SCSI_CD),
}

MARKER = re.compile(r"AVOCADO-RR: (.*)")


def sh(*args: str, cwd: Path | None = None) -> str:
    proc = subprocess.run(args, cwd=cwd, text=True, capture_output=True)
    if proc.returncode:
        raise RuntimeError(f"{shlex.join(args)} failed ({proc.returncode}):"
                           f" {proc.stderr.strip()}")
    return proc.stdout


def payload(size: int = 65536) -> bytes:
    """Deterministic pseudo-random bytes for the HTTP fetch."""
    out, block = b"", b"avocado-rr payload"
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block
    return out[:size]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def start_server(directory: Path) -> http.server.ThreadingHTTPServer:
    handler = functools.partial(QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def run_qemu(argv: list[str], timeout: float) -> tuple[float, int | None]:
    """Run QEMU to its end; kill it at the wall timeout (rc None)."""
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        out, _ = proc.communicate(timeout=timeout)
        rc = proc.returncode
        if out.strip():
            print("   qemu:", out.decode(errors="replace").strip()[:500])
    except subprocess.TimeoutExpired:
        rc = None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return time.monotonic() - start, rc


def markers(console: Path) -> list[str]:
    text = console.read_text(errors="replace") if console.exists() else ""
    return [m.group(1).strip() for m in MARKER.finditer(text)]


def block_args(args: argparse.Namespace, disk: Path, overlay: Path,
               iso: Path) -> list[str]:
    """The disk (node disk0-rr) and config ISO (node cd) arguments."""
    if args.blockdev:
        # -blockdev has no snapshot=on: a fresh qcow2 overlay per phase
        # keeps the image unmodified and gives replay the recorded start
        out = ["-blockdev", f"driver=file,filename={overlay},"
               "node-name=disk0-f",
               "-blockdev", "driver=qcow2,file=disk0-f,node-name=disk0",
               "-blockdev", "driver=blkreplay,image=disk0,node-name=disk0-rr",
               "-blockdev", f"driver=file,filename={iso},node-name=cd-f,"
               "read-only=on"]
        if args.cd_blkreplay:
            return out + ["-blockdev", "driver=raw,file=cd-f,"
                          "node-name=cd-direct,read-only=on",
                          "-blockdev", "driver=blkreplay,image=cd-direct,"
                          "node-name=cd,read-only=on"]
        return out + ["-blockdev", "driver=raw,file=cd-f,node-name=cd,"
                      "read-only=on"]
    out = ["-drive", f"file={disk},format=qcow2,if=none,snapshot=on,"
           "id=disk0",
           "-drive", "driver=blkreplay,if=none,image=disk0,id=disk0-rr"]
    if args.cd_blkreplay:
        return out + ["-drive", f"file={iso},format=raw,if=none,"
                      "media=cdrom,id=cd-direct,readonly=on",
                      "-drive", "driver=blkreplay,if=none,image=cd-direct,"
                      "id=cd,readonly=on"]
    return out + ["-drive", f"file={iso},format=raw,if=none,media=cdrom,"
                  "id=cd,readonly=on"]


def run_case(name: str, args: argparse.Namespace, attempt: int) -> dict:
    target, machine, console_dev, cdrom = CASES[name]
    qemu = f"qemu-system-{target}"
    work = Path(args.work).resolve()
    catalogue = assets.Catalogue.load()
    kernel = catalogue.fetch(f"kernel-{target}")
    initrd = initramfs.build_initramfs_for(catalogue, target,
                                           work / "initramfs")

    cd_mode = ("bd-" if args.blockdev else "") + (
        "cdrr" if args.cd_blkreplay else "cd")
    run = work / "runs" / f"{name}-{args.tx}-{cd_mode}-{args.shift}-{attempt}"
    shutil.rmtree(run, ignore_errors=True)
    (run / "www").mkdir(parents=True)
    data = payload()
    (run / "www/payload.bin").write_bytes(data)
    raw = run / "disk.raw"
    head = (b"avocado-rr disk image\n" * 12000)[:262144]
    raw.write_bytes(head)
    with open(raw, "r+b") as f:
        f.truncate(64 << 20)
    disk = run / "disk.qcow2"
    sh("qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw),
       str(disk))
    raw.unlink()
    disk_hash = hashlib.sha256(disk.read_bytes()).hexdigest()

    server = start_server(run / "www")
    port = server.server_address[1]
    iso = cidata.make_cidata_iso(run / "cidata.iso",
                                 cidata.workload_user_data(http_port=port))

    def argv(mode: str, console: Path) -> list[str]:
        if args.blockdev:
            sh("qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2",
               "-b", str(disk), str(run / f"overlay-{mode}.qcow2"))
        return [qemu, "-nodefaults", "-display", "none", "-vga", "none",
                "-no-reboot", "-m", "512", *machine,
                "-chardev", f"file,id=con,path={console}",
                "-serial", "chardev:con",
                "-kernel", str(kernel), "-initrd", str(initrd),
                "-append", f"printk.time=1 panic=-1 console={console_dev}",
                "-icount",
                f"shift={args.shift},rr={mode},rrfile={run / 'replay.bin'}",
                *block_args(args, disk, run / f"overlay-{mode}.qcow2", iso),
                "-device", "virtio-blk-pci,drive=disk0-rr", *cdrom,
                "-netdev", "user,id=net0",
                "-device", f"virtio-net-pci,netdev=net0,romfile=,tx={args.tx}",
                "-object", "filter-replay,id=replay,netdev=net0"]

    result = {"case": name, "tx": args.tx, "shift": args.shift,
              "cd_blkreplay": args.cd_blkreplay, "blockdev": args.blockdev,
              "attempt": attempt}
    try:
        rec_argv = argv("record", run / "record.log")
        (run / "argv.txt").write_text(shlex.join(rec_argv) + "\n")
        result["record_s"], result["record_rc"] = run_qemu(
            rec_argv, args.timeout)
    finally:
        server.shutdown()
        server.server_close()
    result["log_bytes"] = (run / "replay.bin").stat().st_size \
        if (run / "replay.bin").exists() else 0
    result["replay_s"], result["replay_rc"] = run_qemu(
        argv("replay", run / "replay.log"), args.timeout)

    rec, rep = markers(run / "record.log"), markers(run / "replay.log")
    result["record_markers"] = rec
    result["replay_markers_match"] = rec == rep
    result["console_identical"] = ((run / "record.log").read_bytes() ==
                                   (run / "replay.log").read_bytes()
                                   if (run / "replay.log").exists() else
                                   False)
    want = hashlib.sha256(data).hexdigest()
    result["http_ok"] = f"http-sha256 {want} size={len(data)}" in rec
    result["disk_ok"] = "disk-ok" in rec and (
        f"disk-before /dev/vda {hashlib.sha256(head).hexdigest()}" in rec)
    result["image_unchanged"] = hashlib.sha256(
        disk.read_bytes()).hexdigest() == disk_hash
    result["complete"] = bool(rec) and rec[-1] == "poweroff"
    result["ok"] = all(result[k] for k in (
        "replay_markers_match", "console_identical", "http_ok", "disk_ok",
        "image_unchanged", "complete")) and result["record_rc"] == 0 and result["replay_rc"] == 0
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", default=list(CASES),
                        help=f"cases (default all): {', '.join(CASES)}")
    parser.add_argument("--work", default="build/explore-linux",
                        help="cache and run directory")
    parser.add_argument("--tx", default="timer", choices=("timer", "bh"),
                        help="virtio-net tx mode")
    parser.add_argument("--shift", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=180.0,
                        help="wall timeout per QEMU run, seconds")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--blockdev", action="store_true",
                        help="-blockdev node syntax (qcow2 overlay per "
                        "phase) instead of -drive ...,snapshot=on")
    parser.add_argument("--cd-blkreplay", action="store_true",
                        help="wrap the config ISO in blkreplay too")
    args = parser.parse_args()
    unknown = set(args.cases) - set(CASES)
    if unknown:
        parser.error(f"unknown cases: {', '.join(sorted(unknown))}")
    failed = 0
    for name in args.cases:
        for attempt in range(args.repeat):
            res = run_case(name, args, attempt)
            failed += not res["ok"]
            print(json.dumps(res))
            sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
