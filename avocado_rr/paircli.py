"""``avocado-rr record|replay|check``: record/replay pairs by hand.

The same engine and verdict as the Avocado tests.  ``replay`` and
``check`` print the verdict (``--json``: one JSON object); ``record``
prints the recording it made (its log, icount, time; ``--json``: one
object with ``recorded: true``), or the ``record-failed`` verdict.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

from avocado_rr.engine import RecordReplay
from avocado_rr.machine import MachineError
from avocado_rr.pair import (BootSpec, RecordFailed, Recording,
                             check_same_qemu)
from avocado_rr.qemu_binary import find_qemu
from avocado_rr.repeat import with_replays
from avocado_rr.statecheck import DEFAULT_EVERY, CheckpointPlan
from avocado_rr.verdict import Verdict

EXIT_PASS = 0
EXIT_FAIL = 1


def _add_boot_arguments(parser: argparse.ArgumentParser) -> None:
    boot = parser.add_argument_group("what to boot")
    boot.add_argument("--arch", required=True,
                      help="target architecture, e.g. x86_64, aarch64")
    boot.add_argument("--machine", required=True, help="QEMU -machine")
    boot.add_argument("--cpu", help="QEMU -cpu")
    boot.add_argument("--memory", default="512", help="QEMU -m (512)")
    boot.add_argument("--kernel", required=True,
                      help="kernel: a path or an asset name")
    boot.add_argument("--initrd", help="initrd: a path or an asset name")
    boot.add_argument("--dtb", help="device tree: a path or an asset name")
    boot.add_argument("--append", default="", help="kernel command line")
    boot.add_argument("--pattern", required=True,
                      help="console line (substring) that ends the recording")
    boot.add_argument("--shift", type=int, default=7,
                      help="icount shift (7)")
    boot.add_argument("--debug-flags", metavar="ITEMS",
                      help="QEMU -d items logged in both phases (e.g. int); "
                      "a failed replay's report shows where they part")
    boot.add_argument("--trace", action="append", default=[],
                      metavar="PATTERN", help="QEMU trace events enabled in "
                      "both phases (repeatable)")
    boot.add_argument("--event-trace", action="store_true",
                      help="trace both phases' replay event streams (QEMU "
                      "11.1+; costs ~20 %%): a failed replay then names "
                      "the first event where they part")
    boot.add_argument("--qemu-arg", action="append", default=[],
                      metavar="ARG", help="extra QEMU argument (repeatable; "
                      "use --qemu-arg=-foo for arguments starting with -)")


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--qemu-bin", help="QEMU binary to use")
    parser.add_argument("--qemu-build-dir", help="QEMU build tree to use")
    parser.add_argument("--qemu-version", metavar="VERSION",
                        help="Debian's build of this QEMU version from the "
                        "asset cache, e.g. 11.1 ('avocado-rr qemu list')")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="wall-clock limit per phase in seconds (120)")
    parser.add_argument("--json", action="store_true",
                        help="print the result as one JSON object")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="log what is run")


def _add_checkpoints(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoints", type=float, metavar="N",
                        default=10.0 / DEFAULT_EVERY,
                        help="state checkpoints per 10 s of recording "
                        "(registers and RAM, compared by the replay to say "
                        "where it first differs; the first after 0.25 s; "
                        f"0: none; default {10.0 / DEFAULT_EVERY:g})")


def add_replays(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--replays", type=int, default=1, metavar="N",
                        help="replay N times and compare the replays with "
                        "each other: a race of the replay, or a mismatch "
                        "with the recording (1)")


def add_record_arguments(parser: argparse.ArgumentParser) -> None:
    _add_boot_arguments(parser)
    add_common_arguments(parser)
    parser.add_argument("--rrfile", required=True, help="replay log to write")
    _add_checkpoints(parser)


def add_kept_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of a command on a kept recording (``load_replay``)."""
    add_common_arguments(parser)
    parser.add_argument("--rrfile", required=True,
                        help="the kept replay log (with RRFILE.json)")
    parser.add_argument("--allow-other-qemu", action="store_true",
                        help="replay with another QEMU build than the one "
                        "that recorded RRFILE (an experiment: the verdict "
                        "names both)")
    add_stall_timeout(parser)


def add_replay_arguments(parser: argparse.ArgumentParser) -> None:
    add_kept_arguments(parser)
    add_replays(parser)


def add_check_arguments(parser: argparse.ArgumentParser) -> None:
    _add_boot_arguments(parser)
    add_common_arguments(parser)
    parser.add_argument("--rrfile", help="replay log to write (default: "
                        "replay.bin in --outdir)")
    parser.add_argument("--outdir", help="where artifacts go (default: a "
                        "new directory under /tmp)")
    add_stall_timeout(parser)
    _add_checkpoints(parser)
    add_replays(parser)


def add_stall_timeout(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stall-timeout", type=float, default=5.0,
                        help="seconds without icount progress before the "
                        "replay counts as stalled (5)")


def _spec(args) -> BootSpec:
    from avocado_rr import assets

    def resolve(value):
        return os.fspath(assets.resolve_asset(value)) if value else None
    return BootSpec(arch=args.arch, machine=args.machine, cpu=args.cpu,
                    memory=args.memory, kernel=resolve(args.kernel),
                    initrd=resolve(args.initrd), dtb=resolve(args.dtb),
                    append=args.append, shift=args.shift,
                    extra_args=list(args.qemu_arg),
                    debug_flags=args.debug_flags, trace=list(args.trace),
                    event_trace=args.event_trace)


def _emit(args, verdict: Verdict, extra: dict | None = None) -> int:
    data = verdict.to_dict()
    data.update(extra or {})
    if args.json:
        print(json.dumps(data, default=str))
    else:
        print(verdict.summary())
        for key in ("recorded_icount", "replay_icount", "final_icount",
                    "log_icount",
                    "record_time", "replay_time", "overhead", "log_size"):
            if data.get(key) is not None:
                print(f"  {key}: {data[key]}")
        for key, value in (extra or {}).items():
            print(f"  {key}: {value}")
    return EXIT_PASS if verdict.passed else EXIT_FAIL


def _progress_bar(stream=sys.stderr):
    """A replay progress bar on stderr (only on a terminal)."""
    if not stream.isatty():
        return None

    def show(icount: int, target: int) -> None:
        share = min(icount / target, 1.0) if target else 0.0
        bar = "#" * int(share * 30)
        stream.write(f"\rreplay [{bar:<30}] {100 * share:5.1f}% "
                     f"icount {icount}/{target}")
        if icount >= target:
            stream.write("\n")
        stream.flush()
    return show


def run_record(args: argparse.Namespace) -> int:
    spec = _spec(args)
    qemu = find_qemu(spec.arch, args.qemu_bin, args.qemu_build_dir,
                     args.qemu_version)
    engine = RecordReplay(qemu, os.path.dirname(os.path.abspath(args.rrfile)))
    try:
        recording = engine.record(spec, args.pattern, timeout=args.timeout,
                                  rrfile=args.rrfile,
                                  checkpoints=_plan(args))
    except RecordFailed as failure:
        return _emit(args, failure.verdict)
    data = {"recorded": True, "rrfile": recording.rrfile,
            "recorded_icount": recording.icount,
            "final_icount": recording.final_icount,
            "record_time": recording.record_time,
            "log_size": os.path.getsize(recording.rrfile),
            "checkpoints": len(recording.checkpoints),
            "console": recording.console, "metadata": recording.sidecar,
            "qemu_version": recording.qemu_version}
    if args.json:
        print(json.dumps(data))
    else:
        print(f"recorded: {recording.rrfile} (not replayed yet: "
              f"'avocado-rr replay --rrfile {recording.rrfile}')")
        for key, value in data.items():
            if key not in ("recorded", "rrfile"):
                print(f"  {key}: {value}")
    return EXIT_PASS


def _plan(args: argparse.Namespace) -> CheckpointPlan | None:
    return CheckpointPlan.per_10s(args.checkpoints) \
        if args.checkpoints > 0 else None


def load_replay(args: argparse.Namespace) -> tuple[Recording, RecordReplay]:
    """The kept recording ``--rrfile`` names, and an engine of its QEMU
    (or of the one named; another build is refused unless
    ``--allow-other-qemu``)."""
    recording = Recording.load(os.path.abspath(args.rrfile))
    named = args.qemu_bin or args.qemu_build_dir or args.qemu_version
    qemu = find_qemu(recording.spec.arch,
                     args.qemu_bin or (None if named else recording.qemu_path),
                     args.qemu_build_dir, args.qemu_version)
    if not getattr(args, "allow_other_qemu", False):
        check_same_qemu(recording, qemu)
    return recording, RecordReplay(qemu, os.path.dirname(recording.rrfile))


def replay_kept(args: argparse.Namespace, recording: Recording,
                engine: RecordReplay) -> Verdict:
    """Replay a kept recording (``--replays`` times)."""
    try:
        verdict = engine.replay(recording, args.timeout, args.stall_timeout,
                                _progress_bar())
    except MachineError as details:
        if recording.qemu_version == engine.qemu.version_line:
            raise
        raise MachineError(f"recorded by {recording.qemu_version}, replayed "
                           f"by {engine.qemu.version_line}: {details}") \
            from details
    return with_replays(engine, recording, verdict, args.replays,
                        args.timeout, args.stall_timeout)


def run_replay(args: argparse.Namespace) -> int:
    recording, engine = load_replay(args)
    return _emit(args, replay_kept(args, recording, engine))


def run_check(args: argparse.Namespace) -> int:
    spec = _spec(args)
    qemu = find_qemu(spec.arch, args.qemu_bin, args.qemu_build_dir,
                     args.qemu_version)
    outdir = args.outdir or (os.path.dirname(os.path.abspath(args.rrfile))
                             if args.rrfile else
                             tempfile.mkdtemp(prefix="avocado-rr-"))
    engine = RecordReplay(qemu, outdir)
    verdict = engine.check(spec, args.pattern, timeout=args.timeout,
                           stall_timeout=args.stall_timeout,
                           rrfile=args.rrfile, progress=_progress_bar(),
                           checkpoints=_plan(args))
    if engine.recording is not None:
        verdict = with_replays(engine, engine.recording, verdict,
                               args.replays, args.timeout,
                               args.stall_timeout)
    return _emit(args, verdict, {"outdir": engine.outdir})


#: subcommand -> (add its arguments, run it)
COMMANDS = {"record": (add_record_arguments, run_record),
            "replay": (add_replay_arguments, run_replay),
            "check": (add_check_arguments, run_check)}
