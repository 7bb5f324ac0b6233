"""Where a replay stops: the recorded stop icount, or the log's quit when
QEMU 7.2 logged the quit before the last instructions (real fixtures)."""

import json
import os

from avocado_rr.pair import BootSpec, Recording, replay_stop_icount

from test_replaylog import FIXTURES, SIDECAR, _unxz


def _recording(rrfile: str, icount: int) -> Recording:
    spec = BootSpec(arch="aarch64", machine="virt", kernel="vmlinuz")
    return Recording(rrfile=rrfile, spec=spec, qemu_path="qemu",
                     qemu_version="7.2", icount=icount,
                     console=rrfile + ".console", argv=[], pattern="x",
                     record_time=1.0, final_icount=icount)


def test_log_with_a_quit_tail_stops_at_its_quit(tmp_path):
    with open(os.path.join(FIXTURES, "aarch64-quit-tail.json"),
              encoding="utf-8") as f:
        sidecar = json.load(f)
    log = _unxz("aarch64-quit-tail.rr.xz", tmp_path)
    recording = _recording(log, sidecar["query_replay_icount"])
    assert replay_stop_icount(recording) == sidecar["quit_icount"]


def test_log_without_a_tail_stops_at_the_recorded_icount(tmp_path):
    log = _unxz("bios-disk-net.rr.xz", tmp_path)
    recording = _recording(log, SIDECAR["query_replay_icount"])
    assert replay_stop_icount(recording) == SIDECAR["query_replay_icount"]


def test_a_recording_stopped_before_its_quit_stops_there(tmp_path):
    """Recordings that ran on past their stop point break at it."""
    log = _unxz("bios-disk-net.rr.xz", tmp_path)
    recording = _recording(log, SIDECAR["query_replay_icount"] - 1000)
    assert replay_stop_icount(recording) == recording.icount


def test_unreadable_log_falls_back_to_the_recorded_icount(tmp_path):
    log = tmp_path / "garbage.rr"
    log.write_bytes(b"\x0c\x20\xe0\x00" + b"\xff" * 64)
    recording = _recording(str(log), 12345)
    assert replay_stop_icount(recording) == 12345
