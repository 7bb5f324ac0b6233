"""``avocado-rr locate``: where a kept recording's replay first goes wrong.

Replays the recording (``--replays N`` times), stopping at each state
checkpoint the recording kept to compare registers and RAM, and prints
the location: the last equal and the first different checkpoint (or the
interval before the replay's failure), the registers and pages that
differ, the log events between.  ``--json`` prints one object with at
least ``located``, ``last_equal_icount``, ``first_different_icount``,
``differences`` and the ``verdict``.  Exit status 0 when nothing differs,
1 when something does, 2 when the recording cannot be replayed.
"""

from __future__ import annotations

import argparse
import json

from avocado_rr.divergence import Location
from avocado_rr.paircli import (add_kept_arguments, add_replays,
                                load_replay, replay_kept)

EXIT_EQUAL = 0
EXIT_DIFFERS = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_kept_arguments(parser)
    add_replays(parser)


def location_object(verdict) -> dict:
    """The --json object of a location."""
    location = verdict.location or {}
    differences = {"registers": location.get("registers", {}),
                   "pages": location.get("pages", []),
                   "page_count": location.get("page_count", 0)}
    return {"located": bool(location.get("located")),
            "kind": location.get("kind", "no-checkpoints"),
            "last_equal_icount": location.get("last_equal_icount"),
            "first_different_icount": location.get(
                "first_different_icount"),
            "recorded_icount": verdict.recorded_icount,
            "differences": differences,
            "events": location.get("events", []),
            "console_bytes": location.get("console_bytes", []),
            "compared": location.get("compared", 0),
            "transients": location.get("transients", []),
            "replays": verdict.replays,
            "verdict": str(verdict.verdict), "reason": verdict.reason,
            "report": verdict.report}


def run(args: argparse.Namespace) -> int:
    recording, engine = load_replay(args)
    verdict = replay_kept(args, recording, engine)
    if args.json:
        print(json.dumps(location_object(verdict), default=str))
    else:
        print(f"replay: {verdict.verdict}" +
              (f" ({verdict.reason})" if verdict.reason else ""))
        if verdict.location:
            print("\n".join(Location(**verdict.location).describe()))
        if verdict.replays:
            print(f"repeated replays: {verdict.replays['kind']}")
        if verdict.report:
            print(f"report: {verdict.report}")
    return EXIT_EQUAL if verdict.passed else EXIT_DIFFERS
