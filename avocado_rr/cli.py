"""The ``avocado-rr`` command: one entry point, a module per subcommand.

Only the chosen subcommand's module is imported: ``avocado-rr dump``
starts without the engine, QMP or the asset code.  ``--json`` prints one
JSON object on stdout, whatever happens: the result, or, when the
command was refused or failed before a result (a usage error, a missing
QEMU or asset, a log of another QEMU, an interrupt), ``{"verdict":
"error", "error": <exception class>, "message": ..., "exit_status": N}``.
The exit status is 0 only for a pass (or a recording that was made, for
``record``), 2 for an error.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys

from avocado_rr.errors import AvocadoRRError

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
#: the ``verdict`` of a --json error object: no pair was judged
ERROR_VERDICT = "error"

#: subcommand -> (its module, its help); a module has ``COMMANDS`` (name
#: -> (add_arguments, run)) or one ``add_arguments`` and ``run``
SUBCOMMANDS = {
    "record": ("avocado_rr.paircli", "record a boot up to a console "
               "pattern; writes RRFILE, RRFILE.json and RRFILE.console"),
    "replay": ("avocado_rr.paircli", "replay RRFILE against what its "
               "recording saw"),
    "check": ("avocado_rr.paircli", "record, then replay, then judge"),
    "locate": ("avocado_rr.locatecli", "replay RRFILE and say where it "
               "first differs from its recording"),
    "debug": ("avocado_rr.debugcli", "replay RRFILE paused under gdb, "
              "reverse execution included"),
    "dump": ("avocado_rr.replaylog.dumpcli", "print a QEMU replay log"),
    "assets": ("avocado_rr.assetscli", "manage the asset cache (list, "
               "fetch, verify, lock)"),
    "qemu": ("avocado_rr.qemucli", "Debian's QEMU builds (list, fetch, "
             "verify, lock, path)"),
}


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


def build_parser(chosen: str | None = None) -> argparse.ArgumentParser:
    """The parser; only ``chosen``'s module is imported for its options
    (every subcommand is listed in the help)."""
    parser = _Parser(
        prog="avocado-rr",
        description="QEMU record/replay: record a run, replay it, and check "
                    "that the replay reproduces it.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module_name, text) in SUBCOMMANDS.items():
        command = sub.add_parser(name, help=text, description=text)
        if name != chosen:
            continue
        module = importlib.import_module(module_name)
        add, run = getattr(module, "COMMANDS", {}).get(name) or (
            module.add_arguments, module.run)
        add(command)
        command.set_defaults(run=run)
    return parser


def _chosen(argv: list[str]) -> str | None:
    """The subcommand ``argv`` names: its first word that is no option."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    _Parser.json_errors = "--json" in argv
    args = build_parser(_chosen(argv)).parse_args(argv)
    json_mode = getattr(args, "json", False)
    if hasattr(args, "verbose"):
        logging.basicConfig(
            level=logging.INFO if args.verbose else logging.WARNING,
            format="%(name)s: %(message)s", stream=sys.stderr)
    try:
        return args.run(args)
    except (AvocadoRRError, OSError) as details:
        # QemuNotFound, OtherQemu, MachineError, AssetError, a missing
        # sidecar (FileNotFoundError)...
        return _report_error(json_mode, details, EXIT_USAGE)
    except KeyboardInterrupt:
        return _report_error(json_mode, "interrupted", EXIT_INTERRUPTED,
                             "KeyboardInterrupt")


if __name__ == "__main__":
    sys.exit(main())
