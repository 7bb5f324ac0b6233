"""Replays of one recording compared: race, mismatch, consistent."""

from avocado_rr.repeat import repeatability
from avocado_rr.verdict import Verdict


def replay(kind, icount, points):
    return Verdict(kind, replay_icount=icount, location={
        "points": [{"icount": i, "kind": k, "fingerprint": f}
                   for i, k, f in points]})


def test_transients_that_vary_between_replays_are_no_race():
    one = replay("stalled", 900, [(100, "equal", "a"), (200, "equal", "b")])
    two = replay("stalled", 900, [(100, "boundary", "x"),
                                  (200, "equal", "b")])
    result = repeatability([one, two])
    assert result.kind == "mismatch" and result.differences == []


def test_a_divergence_one_replay_has_and_another_not_is_a_race():
    one = replay("diverged", 900, [(100, "equal", "a"),
                                   (200, "diverged", "d")])
    two = replay("pass", 900, [(100, "equal", "a"), (200, "equal", "b")])
    result = repeatability([one, two])
    assert result.kind == "race"
    assert "verdict" in result.differences[0]
    assert "first at icount 200" in result.differences[-1]


def test_replays_that_agree_and_pass_are_consistent():
    same = [(100, "equal", "a")]
    assert repeatability([replay("pass", 5, same),
                          replay("pass", 5, same)]).kind == "consistent"
