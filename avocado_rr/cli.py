"""The ``avocado-rr`` command: record, replay and check pairs by hand.

Uses the same engine and verdict as the Avocado tests.  ``--json`` prints
one JSON object on stdout, whatever happens: the verdict, or, when the
command was refused or failed before a pair could be judged (a usage
error, a missing QEMU or asset, a log of another QEMU, an interrupt),
``{"verdict": "error", "error": <exception class>, "message": ...,
"exit_status": N}``.  The exit status is 0 only for a pass (or a
recording that was made, for ``record``), 2 for an error.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile

from avocado_rr.engine import (BootSpec, RecordFailed, Recording,
                               RecordReplay, check_same_qemu)
from avocado_rr.errors import AvocadoRRError
from avocado_rr.machine import MachineError
from avocado_rr.qemu_binary import find_qemu
from avocado_rr.verdict import Verdict, VerdictKind

EXIT_PASS = 0
EXIT_FAIL = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
#: the ``verdict`` of a --json error object: no pair was judged
ERROR_VERDICT = "error"


def error_object(details: BaseException | str, status: int,
                 error: str | None = None) -> dict:
    """The --json object of a refusal or an error."""
    return {"verdict": ERROR_VERDICT,
            "error": error or type(details).__name__,
            "message": str(details), "exit_status": status}


def _report_error(json_mode: bool, details: BaseException | str,
                  status: int, error: str | None = None) -> int:
    """Say why the command did not run, as JSON or as text; ``status``."""
    if json_mode:
        print(json.dumps(error_object(details, status, error)))
    else:
        print(f"avocado-rr: error: {details}", file=sys.stderr)
    return status


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors are JSON objects in --json mode."""

    json_errors = False

    def error(self, message: str):
        if _Parser.json_errors:
            _report_error(True, f"{self.prog}: {message}", EXIT_USAGE,
                          "UsageError")
            sys.exit(EXIT_USAGE)
        super().error(message)


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
    boot.add_argument("--qemu-arg", action="append", default=[],
                      metavar="ARG", help="extra QEMU argument (repeatable; "
                      "use --qemu-arg=-foo for arguments starting with -)")


def _add_common_arguments(parser: argparse.ArgumentParser) -> None:
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


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="avocado-rr",
        description="QEMU record/replay: record a run, replay it, and check "
                    "that the replay reproduces it.")
    sub = parser.add_subparsers(dest="command", required=True)

    record = sub.add_parser("record", help="record a boot up to a console "
                            "pattern; writes RRFILE, RRFILE.json and "
                            "RRFILE.console")
    _add_boot_arguments(record)
    _add_common_arguments(record)
    record.add_argument("--rrfile", required=True, help="replay log to write")

    replay = sub.add_parser("replay", help="replay RRFILE against what its "
                            "recording saw")
    _add_common_arguments(replay)
    replay.add_argument("--rrfile", required=True, help="replay log to replay")
    replay.add_argument("--allow-other-qemu", action="store_true",
                        help="replay with another QEMU build than the one "
                        "that recorded RRFILE (an experiment: the verdict "
                        "names both)")
    replay.add_argument("--stall-timeout", type=float, default=5.0,
                        help="seconds without icount progress before the "
                        "replay counts as stalled (5)")

    check = sub.add_parser("check", help="record, then replay, then judge")
    _add_boot_arguments(check)
    _add_common_arguments(check)
    check.add_argument("--rrfile", help="replay log to write (default: "
                       "replay.bin in --outdir)")
    check.add_argument("--outdir", help="where artifacts go (default: a new "
                       "directory under /tmp)")
    check.add_argument("--stall-timeout", type=float, default=5.0,
                       help="seconds without icount progress before the "
                       "replay counts as stalled (5)")

    for name, module in (("dump", "avocado_rr.replaylog.dumpcli"),
                         ("assets", "avocado_rr.assetscli"),
                         ("qemu", "avocado_rr.qemucli")):
        _add_delegate(sub, name, module)
    return parser


def _add_delegate(sub, name: str, module_name: str) -> None:
    """Mount a subcommand implemented by another module, when present."""
    try:
        module = __import__(module_name, fromlist=["add_arguments", "run"])
    except ImportError:
        return
    parser = sub.add_parser(name, help=(module.__doc__ or "").split("\n")[0])
    module.add_arguments(parser)
    parser.set_defaults(delegate=module.run)


def _spec(args) -> BootSpec:
    from avocado_rr import assets

    def resolve(value):
        return os.fspath(assets.resolve_asset(value)) if value else None
    return BootSpec(arch=args.arch, machine=args.machine, cpu=args.cpu,
                    memory=args.memory, kernel=resolve(args.kernel),
                    initrd=resolve(args.initrd), dtb=resolve(args.dtb),
                    append=args.append, shift=args.shift,
                    extra_args=list(args.qemu_arg),
                    debug_flags=args.debug_flags, trace=list(args.trace))


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


def _record(args, engine: RecordReplay, spec: BootSpec) -> int:
    try:
        recording = engine.record(spec, args.pattern, timeout=args.timeout,
                                  rrfile=args.rrfile)
    except RecordFailed as failure:
        return _emit(args, failure.verdict)
    verdict = Verdict(VerdictKind.PASS, recorded_icount=recording.icount,
                      final_icount=recording.final_icount,
                      record_time=recording.record_time,
                      log_size=os.path.getsize(recording.rrfile),
                      qemu_version=recording.qemu_version)
    return _emit(args, verdict, {"rrfile": recording.rrfile,
                                 "console": recording.console,
                                 "metadata": recording.sidecar})


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    _Parser.json_errors = "--json" in argv
    args = build_parser().parse_args(argv)
    if getattr(args, "delegate", None):
        return args.delegate(args)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(name)s: %(message)s", stream=sys.stderr)
    try:
        if args.command == "replay":
            recording = Recording.load(os.path.abspath(args.rrfile))
            named = args.qemu_bin or args.qemu_build_dir or args.qemu_version
            qemu = find_qemu(recording.spec.arch,
                             args.qemu_bin or (None if named
                                               else recording.qemu_path),
                             args.qemu_build_dir, args.qemu_version)
            if not args.allow_other_qemu:
                check_same_qemu(recording, qemu)
            engine = RecordReplay(qemu, os.path.dirname(recording.rrfile))
            try:
                verdict = engine.replay(recording, args.timeout,
                                        args.stall_timeout, _progress_bar())
            except MachineError as details:
                if recording.qemu_version == qemu.version_line:
                    raise
                raise MachineError(
                    f"recorded by {recording.qemu_version}, replayed by "
                    f"{qemu.version_line}: {details}") from details
            return _emit(args, verdict)
        spec = _spec(args)
        qemu = find_qemu(spec.arch, args.qemu_bin, args.qemu_build_dir,
                         args.qemu_version)
        if args.command == "record":
            outdir = os.path.dirname(os.path.abspath(args.rrfile))
            return _record(args, RecordReplay(qemu, outdir), spec)
        outdir = args.outdir or (os.path.dirname(os.path.abspath(args.rrfile))
                                 if args.rrfile else
                                 tempfile.mkdtemp(prefix="avocado-rr-"))
        engine = RecordReplay(qemu, outdir)
        verdict = engine.check(spec, args.pattern, timeout=args.timeout,
                               stall_timeout=args.stall_timeout,
                               rrfile=args.rrfile, progress=_progress_bar())
        return _emit(args, verdict, {"outdir": engine.outdir})
    except (AvocadoRRError, OSError) as details:
        # QemuNotFound, OtherQemu, MachineError, AssetError, a missing
        # sidecar (FileNotFoundError)...
        return _report_error(args.json, details, EXIT_USAGE)
    except KeyboardInterrupt:
        return _report_error(args.json, "interrupted", EXIT_INTERRUPTED,
                             "KeyboardInterrupt")


if __name__ == "__main__":
    sys.exit(main())
