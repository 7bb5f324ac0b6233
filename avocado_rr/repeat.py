"""Replay one recording several times: a race or a mismatch?

A failing replay can fail two ways.  If its replays disagree with each
other (another stop icount, another console, a divergence of the state
at a checkpoint where another replay agreed with the recording), the
replay itself is not deterministic: a **race** of the replay.  (A
transient difference at a checkpoint is not a disagreement: where
``replay-break`` stops beside an interrupt entry varies from replay to
replay.)  If they agree with each other but not with the recording, what
the recording kept leads every replay the same wrong way: a
**mismatch** between record and replay.  :func:`replay_again` runs the
extra replays, each in a directory of its own beside the pair's
(``replay-2/``, ``replay-3/``...), and :func:`repeatability` compares
them.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field, replace

from avocado_rr.console import read_transcript
from avocado_rr.engine import RecordReplay
from avocado_rr.pair import Recording
from avocado_rr.verdict import Verdict, VerdictKind


def fingerprint(verdict: Verdict) -> dict:
    """What a replay did, to compare replays with each other: how it
    ended, where, what it printed, its state at each checkpoint."""
    console = verdict.artifacts.get("replay_console")
    points = (verdict.location or {}).get("points") or []
    return {"verdict": str(verdict.verdict),
            "replay_icount": verdict.replay_icount,
            "console": hashlib.sha256(
                read_transcript(console) if console else b"").hexdigest(),
            "states": {p["icount"]: (p.get("kind"), p.get("fingerprint"))
                       for p in points}}


#: point kinds that agree with the recording: a transient is not a
#: replay's own way (where replay-break stops beside an interrupt entry
#: varies from replay to replay)
_AGREEING = {"equal", "boundary", "recovered"}


def _disagree(first: tuple, other: tuple) -> bool:
    """Two replays' states at one checkpoint disagree: one diverged and
    the other not, or both diverged differently."""
    (kind_a, print_a), (kind_b, print_b) = first, other
    if (kind_a in _AGREEING) != (kind_b in _AGREEING):
        return True
    return kind_a not in _AGREEING and print_a != print_b


@dataclass
class Repeatability:
    """How several replays of one recording compare."""

    replays: int
    #: ``consistent`` (all agree, and pass), ``mismatch`` (all agree with
    #: each other, not with the recording), ``race`` (they disagree)
    kind: str
    #: which replays differ from the first, and in what
    differences: list[str] = field(default_factory=list)
    verdicts: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        what = {"consistent": "all agree with each other and with the "
                              "recording",
                "mismatch": "all agree with each other, not with the "
                            "recording: what the recording kept leads "
                            "every replay the same way",
                "race": "they disagree with each other: the replay is "
                        "not deterministic"}[self.kind]
        return (f"{self.replays} replays ({', '.join(self.verdicts)}): "
                f"{what}" + ("; " + "; ".join(self.differences)
                             if self.differences else ""))


def repeatability(verdicts: list[Verdict]) -> Repeatability:
    """Compare the verdicts of replays of the same recording."""
    prints = [fingerprint(verdict) for verdict in verdicts]
    first = prints[0]
    differences = []
    for number, other in enumerate(prints[1:], 2):
        for key in ("verdict", "replay_icount", "console"):
            if other[key] != first[key]:
                differences.append(f"replay {number}: {key} "
                                   f"{other[key]!s:.16} vs {first[key]!s:.16}")
        common = sorted(first["states"].keys() & other["states"].keys())
        unequal = [icount for icount in common
                   if _disagree(first["states"][icount],
                                other["states"][icount])]
        if unequal:
            differences.append(f"replay {number}: state differs from "
                               f"replay 1 first at icount {unequal[0]}")
    if differences:
        kind = "race"
    elif all(verdict.passed for verdict in verdicts):
        kind = "consistent"
    else:
        kind = "mismatch"
    return Repeatability(len(verdicts), kind, differences,
                         [str(verdict.verdict) for verdict in verdicts])


def replay_again(engine: RecordReplay, recording: Recording, count: int,
                 timeout: float = 120.0, stall_timeout: float = 5.0
                 ) -> list[Verdict]:
    """``count`` more replays of ``recording``, each with its artifacts in
    ``replay-<n>/`` of the pair's directory (n from 2)."""
    verdicts = []
    for number in range(2, count + 2):
        if engine.interrupted:
            break
        again = engine.child(f"replay-{number}")
        verdicts.append(again.replay(recording, timeout, stall_timeout))
    return verdicts


def with_replays(engine: RecordReplay, recording: Recording,
                 verdict: Verdict, count: int, timeout: float = 120.0,
                 stall_timeout: float = 5.0) -> Verdict:
    """``verdict`` (of the pair's first replay) with how ``count`` replays
    in all compare (:attr:`Verdict.replays`); a race makes a passing
    verdict fail."""
    if count <= 1 or engine.interrupted:
        return verdict
    more = replay_again(engine, recording, count - 1, timeout, stall_timeout)
    result = repeatability([verdict] + more)
    verdict = replace(verdict, replays=result.to_dict())
    if result.kind == "race" and verdict.passed:
        verdict = replace(verdict, verdict=VerdictKind.DIVERGED,
                          reason=f"replays of the same recording disagree: "
                                 f"{result.describe()}")
    return engine.amend(verdict)
