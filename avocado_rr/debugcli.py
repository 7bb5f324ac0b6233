"""``avocado-rr debug``: a kept recording's replay, paused, under gdb.

Replays RRFILE to ``--icount N`` (default: the first different
checkpoint its verdict located, else where its replay stopped, else its
end) with a gdb stub, and prints the ``gdb-multiarch`` command line that
attaches (architecture, ``target remote``); ``--gdb`` starts that gdb
itself (``--gdb-arg`` adds arguments, e.g. ``-batch -ex ...``).  The
recording's snapshot image (``rrsnapshot``) lets gdb's ``reverse-stepi``
and ``reverse-continue`` seek back; a snapshot is added at N so that
reverse steps near it replay little.  A recording without a snapshot
image cannot go backwards: it is refused, with the fix, unless
``--forward-only``.  QEMU ends when gdb quits (``--gdb``), on Ctrl-C,
or when the replay ends.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import shutil
import subprocess
import tempfile
import time

from avocado_rr import targets
from avocado_rr.devices import RRSNAPSHOT_DRIVE, X86_NO_VAPIC
from avocado_rr.errors import AvocadoRRError
from avocado_rr.gdb import find_gdb
from avocado_rr.pair import Recording
from avocado_rr.paircli import add_kept_arguments, load_replay
from avocado_rr.reverse import SNAPSHOT, free_port



class DebugRefused(AvocadoRRError):
    """The recording cannot be debugged as asked."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_kept_arguments(parser)
    parser.add_argument("--icount", type=int, metavar="N",
                        help="pause the replay at this instruction count "
                        "(default: the first different checkpoint, else "
                        "where the replay stopped, else the end)")
    parser.add_argument("--port", type=int, help="gdb stub TCP port on "
                        "127.0.0.1 (default: a free one)")
    parser.add_argument("--gdb", action="store_true",
                        help="start gdb-multiarch attached to it")
    parser.add_argument("--gdb-arg", action="append", default=[],
                        metavar="ARG", help="more gdb-multiarch arguments "
                        "(repeatable; use --gdb-arg=-batch)")
    parser.add_argument("--forward-only", action="store_true",
                        help="debug a recording without a snapshot image "
                        "(no reverse execution)")


def default_icount(recording: Recording) -> tuple[int, str]:
    """Where to pause, and why: the verdict's first different checkpoint,
    else where the replay stopped, else the recording's end."""
    path = os.path.join(os.path.dirname(recording.rrfile), "verdict.json")
    try:
        with open(path, encoding="utf-8") as stream:
            verdict = json.load(stream)
    except (OSError, ValueError):
        verdict = {}
    location = verdict.get("location") or {}
    if location.get("kind") == "divergence":
        return location["first_different_icount"], \
            "the first checkpoint that differed"
    if verdict.get("replay_icount") and not verdict.get("verdict") == "pass":
        return verdict["replay_icount"], "where the replay stopped"
    return recording.icount, "the end of the recording"


def gdb_command(recording: Recording, port: int) -> list[str]:
    """The gdb-multiarch command line that attaches to the stub."""
    row = targets.target(recording.spec.arch)
    return ["gdb-multiarch",
            "-ex", f"set architecture {row.need('gdb_arch')}",
            "-ex", f"set endian {row.endian}",
            *[arg for setting in row.gdb_settings
              for arg in ("-ex", setting)],
            "-ex", f"target remote 127.0.0.1:{port}"]


def run(args: argparse.Namespace) -> int:
    recording, engine = load_replay(args)
    if args.gdb:
        find_gdb()
    if not recording.spec.rrsnapshot and not args.forward_only:
        raise DebugRefused(
            f"{recording.rrfile} was recorded without a snapshot image "
            f"(rrsnapshot): QEMU cannot seek backwards in it, so "
            f"reverse-stepi and reverse-continue would fail. Record again "
            f"with one (the test parameter rrsnapshot=init, or a kernel "
            f"case's rrsnapshot attribute), or pass --forward-only")
    icount, why = (args.icount, "asked") if args.icount is not None \
        else default_icount(recording)
    port = args.port or free_port()
    with tempfile.TemporaryDirectory(
            prefix="debug-image-", dir=os.path.dirname(recording.rrfile)) as tmp:
        return _debug(args, engine, _with_image_copy(recording, tmp), icount,
                      why, port)


def _debug(args: argparse.Namespace, engine, recording: Recording,
           icount: int, why: str, port: int) -> int:
    session = engine.session(recording, "debug", extra_args=[
        "-gdb", f"tcp:127.0.0.1:{port}"],
        stall_timeout=args.stall_timeout)
    try:
        at = session.run_to(icount, args.timeout) if icount else 0
        notes = []
        if recording.spec.rrsnapshot:
            notes.append(_snapshot_here(session, recording))
        command = gdb_command(recording, port)
        info = {"rrfile": recording.rrfile, "icount": at, "why": why,
                "port": port, "gdb": command, "notes": notes}
        if args.json:
            print(json.dumps(info), flush=True)
        else:
            print(f"replay of {recording.rrfile} paused at icount {at} "
                  f"({why}); gdb stub on 127.0.0.1:{port}")
            for note in notes:
                print(note)
            print("attach with:\n  " + shlex.join(command), flush=True)
        if args.gdb:
            return subprocess.run(command + list(args.gdb_arg)).returncode
        if not args.json:
            print("Ctrl-C ends the replay.", flush=True)
        while session.machine.is_running():
            time.sleep(0.5)
        return 0
    finally:
        session.close()
        engine.close(grace=0)


def _with_image_copy(recording: Recording, directory: str) -> Recording:
    """``recording`` replayed with a copy of its snapshot image in
    ``directory``: the snapshot a session adds (it holds the guest's RAM)
    is not left in the kept image, and no ``savevm`` replaces or deletes
    one there (either aborts QEMU 11.1 in replay, docs/findings.md)."""
    args = list(recording.spec.extra_args)
    for number, arg in enumerate(args):
        options = dict(item.split("=", 1) for item in arg.split(",")
                       if "=" in item)
        if options.get("id") == RRSNAPSHOT_DRIVE and "file" in options:
            copy = os.path.join(directory,
                                os.path.basename(options["file"]))
            shutil.copyfile(options["file"], copy)
            args[number] = arg.replace(f"file={options['file']}",
                                       f"file={copy}")
            return dataclasses.replace(recording, spec=dataclasses.replace(
                recording.spec, extra_args=args))
    return recording


def _snapshot_here(session, recording: Recording) -> str:
    """A snapshot at the pause, so that reverse steps near it replay
    little; what was done, in words."""
    if recording.spec.arch in ("x86_64", "i386") and \
            X86_NO_VAPIC[1] not in recording.argv:
        return (f"no snapshot added: an x86 recording made without "
                f"'{' '.join(X86_NO_VAPIC)}' deadlocks QEMU on loading a "
                f"snapshot taken past the BIOS (docs/findings.md); each reverse step "
                f"replays from the recording's first snapshot, the whole "
                f"boot up to here")
    answer = session.machine.hmp(f"savevm {SNAPSHOT}").strip()
    if answer:
        return f"no snapshot added here ({answer}): reverse steps replay " \
               f"from the recording's first snapshot"
    return f"snapshot {SNAPSHOT!r} added here (in a copy of the snapshot " \
           f"image): reverse steps replay from it"
