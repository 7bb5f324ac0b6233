"""avocado-rr debug: a kept recording's replay, paused under real gdb."""

import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from avocado_rr import devices
from avocado_rr.engine import RecordReplay
from avocado_rr.gdb import GDB
from conftest import X86_PATTERN

CLI = [sys.executable, "-m", "avocado_rr.cli"]
REPLAY_ICOUNT = re.compile(r"instruction count = (\d+)")


@pytest.fixture
def snapshotted(qemu_x86_64, x86_spec, tmp_path):
    """A quick x86 boot recorded with a snapshot image (and without the
    vapic, whose snapshots deadlock a replay's load)."""
    spec = dataclasses.replace(
        x86_spec, rrsnapshot="init",
        extra_args=devices.rrsnapshot_drive(str(tmp_path / "snap.qcow2"))
        + list(devices.X86_NO_VAPIC))
    return RecordReplay(qemu_x86_64, tmp_path / "pair").record(
        spec, X86_PATTERN, timeout=60)


def test_gdb_steps_back_one_instruction_and_leaves_nothing(snapshotted):
    """gdb attaches to the paused replay, stepi and reverse-stepi move
    it one instruction each way (QEMU's own count, 'monitor info
    replay'), and nothing runs once gdb quits."""
    middle = snapshotted.icount // 2
    image = snapshotted.spec.extra_args[1].split(",")[0].split("=", 1)[1]
    with open(image, "rb") as stream:
        kept = stream.read()
    gdb = ["-batch"]
    for command in ("monitor info replay", "stepi", "monitor info replay",
                    "reverse-stepi", "monitor info replay"):
        gdb += ["-ex", command]
    res = subprocess.run(
        CLI + ["debug", "--rrfile", snapshotted.rrfile, "--icount",
               str(middle), "--gdb"] + [f"--gdb-arg={arg}" for arg in gdb],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        timeout=300)
    # gdb prints a monitor command's answer on its stderr
    assert res.returncode == 0, res.stdout
    counts = [int(n) for n in REPLAY_ICOUNT.findall(res.stdout)]
    assert counts == [middle, middle + 1, middle], res.stdout
    assert f"paused at icount {middle} (asked)" in res.stdout
    assert f"{GDB} -ex 'set architecture i386:x86-64' -ex 'set endian " \
        "little' -ex 'target remote 127.0.0.1:" in res.stdout
    # the snapshot added at the pause went into a copy: the kept image
    # is as the recording left it, and the copy is gone
    with open(image, "rb") as stream:
        assert stream.read() == kept
    assert not list(Path(snapshotted.rrfile).parent.glob("debug-image-*"))
    # the conftest's autouse fixture checks that no QEMU is left


def test_a_recording_without_a_snapshot_image_is_refused(qemu_x86_64,
                                                         x86_spec, tmp_path):
    recording = RecordReplay(qemu_x86_64, tmp_path / "pair").record(
        x86_spec, X86_PATTERN, timeout=60)
    res = subprocess.run(CLI + ["debug", "--rrfile", recording.rrfile,
                                "--json"], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 2
    error = json.loads(res.stdout)
    assert error["error"] == "DebugRefused"
    assert "rrsnapshot" in error["message"]
    assert "--forward-only" in error["message"]
