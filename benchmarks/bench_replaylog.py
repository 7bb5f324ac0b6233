#!/usr/bin/env python3
"""Benchmark of avocado_rr.replaylog against a replay-dump.py style decoder.

Decodes a multi-million-event replay log (by default a mipsel malta
kernel boot recorded here with Debian 12's QEMU, about 7 million events;
or ``--log PATH``) and reports, for the summary and the full text dump:

* events/s of avocado_rr.replaylog (C scanner and pure Python);
* events/s of a reference decoder written the way QEMU's
  scripts/replay-dump.py reads (one ``read()`` and one ``struct.unpack``
  per field), counting only, and printing the same kind of text lines;
  all timed in this process, one after the other;
* peak RSS of each mode, each run in a fresh child process, on the big log
  and on the small real fixture (RSS must not grow with log size).

Usage: bench_replaylog.py [--log LOG] [--json]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import lzma
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from avocado_rr import replaylog as R          # noqa: E402
from avocado_rr.replaylog import backend       # noqa: E402
from avocado_rr.replaylog.formats import FORMATS  # noqa: E402

FIXTURE = os.path.join(os.path.dirname(HERE), "tests", "unit", "fixtures",
                       "replaylog", "bios-disk-net.rr.xz")
CACHE = os.path.join(os.path.dirname(HERE), "build", "bench")


# ---- the reference: replay-dump.py's way of reading, 0xe0200c/7.2+ ----

def _ref_decode(path: str, out) -> tuple[int, int]:
    """Decode like replay-dump.py; print lines to *out* unless None."""
    def byte(f):
        return struct.unpack(">B", f.read(1))[0]

    def dword(f):
        return struct.unpack(">I", f.read(4))[0]

    def qword(f):
        return struct.unpack(">Q", f.read(8))[0]

    names = {ev.id: ev.name for ev in FORMATS[0xe0200c][0].events}
    events = total = 0
    with open(path, "rb") as f:
        dword(f)
        qword(f)
        while True:
            eid = byte(f)
            events += 1
            text = None
            if eid == 0:
                n = dword(f)
                total += n
                text = "+ %d -> %d" % (n, total)
            elif eid in (3, 4, 8):
                text = "id:%d" % qword(f)
            elif eid == 7:
                dev = byte(f)
                text = "device:%x chars:%s" % (dev, f.read(dword(f)))
            elif eid == 9:
                net, flags, size = byte(f), dword(f), dword(f)
                f.seek(size, os.SEEK_CUR)
                text = "net:%x flags:%x bytes:%d" % (net, flags, size)
            elif eid == 22:
                res, off = dword(f), dword(f)
                text = "%d -> %d" % (off, res)
            elif eid == 27:
                dword(f)  # ret
                size = dword(f)
                f.seek(size, os.SEEK_CUR)
                text = "%d bytes" % size
            elif eid in (28, 29):
                text = "0x%x" % qword(f)
            elif 10 <= eid <= 21 or eid in (1, 2, 6) or 30 <= eid <= 39:
                pass
            else:
                raise ValueError(f"reference cannot decode event {eid}")
            if out is not None:
                if text:
                    print("%d:%s(%d) %s" % (events, names[eid], eid, text),
                          file=out)
                else:
                    print("%d:%s(%d)" % (events, names[eid], eid), file=out)
            if eid == 39:
                return events, total


# ---- getting a big real log ----

def record_mipsel_log(dest: str) -> str:
    """Record a mipsel malta kernel boot (to the root-mount panic)."""
    from avocado_rr.assets import Catalogue
    kernel = str(Catalogue.load().fetch("kernel-mipsel"))
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    tmp = dest + ".part"
    argv = ["qemu-system-mipsel", "-M", "malta", "-m", "256", "-nodefaults",
            "-display", "none", "-vga", "none", "-no-reboot",
            "-serial", "file:/dev/null", "-kernel", kernel,
            "-append", "printk.time=1 panic=-1 console=ttyS0",
            "-icount", f"shift=5,rr=record,rrfile={tmp}", "-net", "none"]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        _, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode != 0:
        raise RuntimeError(f"recording failed ({proc.returncode}): {err!r}")
    os.replace(tmp, dest)
    return dest


# ---- measurements ----

def timed(fn, *args) -> tuple[float, object]:
    t0 = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - t0, result


def _child(mode: str, path: str) -> None:
    """Run one mode and print its peak RSS (KiB) as JSON."""
    null = open(os.devnull, "wb")
    if mode == "summary-c":
        R.summarize(path, accel=True)
    elif mode == "summary-py":
        R.summarize(path, accel=False)
    elif mode == "text-c":
        backend.write_text(path, null, accel=True)
    elif mode == "text-py":
        backend.write_text(path, null, accel=False)
    elif mode == "ref-count":
        _ref_decode(path, None)
    elif mode == "ref-text":
        _ref_decode(path, io.TextIOWrapper(null))
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over execve from the
    # parent, VmHWM belongs to this process's own address space
    with open("/proc/self/status", encoding="ascii") as f:
        hwm = next(int(line.split()[1]) for line in f
                   if line.startswith("VmHWM:"))
    print(json.dumps(hwm))


def peak_rss(mode: str, path: str) -> int:
    out = subprocess.run([sys.executable, __file__, "--child", mode, path],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--log", help="replay log to decode (default: "
                        "record a mipsel malta boot into build/bench/)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return 0
    if not R.accelerated():
        print("C scanner not built: run 'python setup.py build_ext "
              "--inplace'", file=sys.stderr)
        return 1
    log = args.log
    if log is None:
        log = os.path.join(CACHE, "mipsel-malta-boot.rr")
        if not os.path.exists(log):
            print(f"recording {log} ...", file=sys.stderr)
            record_mipsel_log(log)
    small_dir = tempfile.mkdtemp(prefix="rrbench-")
    try:
        small = os.path.join(small_dir, "small.rr")
        with lzma.open(FIXTURE) as fin, open(small, "wb") as fout:
            shutil.copyfileobj(fin, fout)
        results = run_all(log, small)
    finally:
        shutil.rmtree(small_dir, ignore_errors=True)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(report(results))
    return 0


class _HashSink:
    """A binary output that only hashes what it is given."""

    def __init__(self):
        self._h = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self._h.update(data)
        return len(data)

    def hexdigest(self) -> str:
        return self._h.hexdigest()


def run_all(log: str, small: str) -> dict:
    null_text = io.TextIOWrapper(open(os.devnull, "wb"))
    t_ref_count, (ref_events, ref_icount) = timed(_ref_decode, log, None)
    t_ref_text, _ = timed(_ref_decode, log, null_text)
    t_sum_c, s_c = timed(R.summarize, log)
    t_sum_py, s_py = timed(lambda p: R.summarize(p, accel=False), log)
    sink_c, sink_py = _HashSink(), _HashSink()
    t_text_c, _ = timed(lambda p: backend.write_text(p, sink_c, accel=True),
                        log)
    t_text_py, _ = timed(lambda p: backend.write_text(p, sink_py,
                                                      accel=False), log)
    assert sink_c.hexdigest() == sink_py.hexdigest(), \
        "C and pure-Python text dumps differ"
    assert s_c == s_py, "C and pure-Python summaries differ"
    assert (s_c.events, s_c.icount) == (ref_events, ref_icount), \
        "reference and replaylog disagree"
    n = s_c.events
    rate = {k: n / t for k, t in (
        ("ref_count", t_ref_count), ("ref_text", t_ref_text),
        ("summary_c", t_sum_c), ("summary_py", t_sum_py),
        ("text_c", t_text_c), ("text_py", t_text_py))}
    rss = {mode: {"big": peak_rss(mode, log), "small": peak_rss(mode, small)}
           for mode in ("summary-c", "summary-py", "text-c", "text-py",
                        "ref-count")}
    return {
        "log": log, "log_bytes": os.path.getsize(log), "events": n,
        "icount": s_c.icount, "small_log_bytes": os.path.getsize(small),
        "events_per_s": rate,
        "ratios": {
            "summary_c_vs_ref_count": rate["summary_c"] / rate["ref_count"],
            "text_c_vs_ref_text": rate["text_c"] / rate["ref_text"],
            "summary_py_vs_ref_count":
                rate["summary_py"] / rate["ref_count"],
            "text_py_vs_ref_text": rate["text_py"] / rate["ref_text"],
        },
        "peak_rss_kib": rss,
        "goals": {"summary >= 10x ref_count":
                  rate["summary_c"] >= 10 * rate["ref_count"],
                  "text >= 3x ref_text":
                  rate["text_c"] >= 3 * rate["ref_text"]},
    }


def report(r: dict) -> str:
    lines = [f"log: {r['log']} ({r['log_bytes']} bytes, {r['events']} "
             f"events, icount {r['icount']})", "events/s:"]
    for k, v in r["events_per_s"].items():
        lines.append(f"  {k:<12} {v:>14,.0f}")
    lines.append("ratios:")
    for k, v in r["ratios"].items():
        lines.append(f"  {k:<26} {v:6.1f}x")
    lines.append(f"peak RSS KiB (big log / {r['small_log_bytes']}-byte "
                 f"log):")
    for k, v in r["peak_rss_kib"].items():
        lines.append(f"  {k:<12} {v['big']:>8} / {v['small']:>8}")
    for k, v in r["goals"].items():
        lines.append(f"goal {k}: {'met' if v else 'NOT met'}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
