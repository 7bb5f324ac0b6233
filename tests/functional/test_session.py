"""A live replay session and the recording's probes, on real QEMU."""

import os
import signal
import time

import pytest

from avocado_rr.engine import RecordReplay
from avocado_rr.pair import Recording, ReplayState
from avocado_rr.probes import (IcountProbe, RecordProbes, RegistersProbe,
                               parse_registers)
from avocado_rr.session import ReplayStopped
from conftest import X86_PATTERN

PROBES = [IcountProbe(), RegistersProbe()]


@pytest.fixture
def probed(qemu_x86_64, x86_spec, tmp_path):
    """A recording paused for its probes every 0.3 s and at its stop."""
    engine = RecordReplay(qemu_x86_64, tmp_path / "pair")
    recording = engine.record(x86_spec, X86_PATTERN, timeout=60,
                              probes=RecordProbes.every(PROBES, 0.3))
    return engine, recording


def test_record_probes_are_kept_with_the_recording(probed):
    engine, recording = probed
    checkpoints = recording.checkpoints
    assert len(checkpoints) >= 2, checkpoints
    assert checkpoints[-1].moment == "stop"
    assert checkpoints[-1].icount == recording.icount
    icounts = [c.icount for c in checkpoints]
    assert icounts == sorted(icounts) and icounts[0] > 0
    for checkpoint in checkpoints:
        # the probe's own icount is the pause's: the machine was stopped
        assert checkpoint.values["icount"] == checkpoint.icount
        # x86-64 registers, as HMP names them
        assert {"RIP", "RSP", "RFL"} <= \
            parse_registers(checkpoint.values["registers"]).keys()
    # the sidecar keeps them, for a replay in another process
    assert Recording.load(recording.rrfile).checkpoints == checkpoints
    # a paused and resumed recording still replays exactly
    assert engine.replay(recording, timeout=60).passed


def test_a_session_pauses_on_each_recorded_checkpoint(probed):
    engine, recording = probed
    with engine.session(recording, "probe") as session:
        for checkpoint in recording.checkpoints:
            at = session.run_to(checkpoint.icount)
            assert at == checkpoint.icount
            seen = session.probe(PROBES)
            assert seen.icount == checkpoint.icount
            assert seen.values["icount"] == checkpoint.icount
            assert parse_registers(seen.values["registers"]).keys() == \
                parse_registers(checkpoint.values["registers"]).keys()
    assert engine.active is None or not engine.active.is_running()


def test_a_probe_refuses_a_running_replay(probed):
    engine, recording = probed
    with engine.session(recording, "running") as session:
        session.machine.cmd("cont")
        with pytest.raises(Exception, match="paused replay"):
            session.probe(PROBES)


def test_a_frozen_replay_is_stalled_within_the_stall_timeout(probed):
    """Every wait asks QMP with the short timeout: a SIGSTOPped QEMU is
    found stalled after the stall timeout, not after QMP's 30 s a
    question."""
    engine, recording = probed
    with engine.session(recording, "frozen", stall_timeout=3) as session:
        session.run_to(recording.checkpoints[0].icount)
        session.machine.cmd("cont")
        os.kill(session.machine.proc.pid, signal.SIGSTOP)
        start = time.monotonic()
        with pytest.raises(ReplayStopped) as stopped:
            session.wait_paused(recording.icount)
        elapsed = time.monotonic() - start
        os.kill(session.machine.proc.pid, signal.SIGCONT)
    assert stopped.value.outcome.state == ReplayState.STALLED
    assert stopped.value.outcome.icount is not None
    assert elapsed < 15, elapsed
