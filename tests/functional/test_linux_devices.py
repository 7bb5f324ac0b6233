"""The device arguments of ReplayLinuxTest as real QEMU 7.2 takes them.

QEMU starts paused under ``rr=record`` with the disk, cdrom and network
arguments the builders make (nothing boots); QMP then shows the block
nodes: the disk behind blkreplay over a snapshot=on temporary overlay (or
a writable overlay), the ISO read-only as a cdrom, the replay filter on
the network.
"""

import json

import pytest

from avocado_rr import devices
from avocado_rr.pair import BootSpec, qemu_argv
from avocado_rr.guest import cidata
from avocado_rr.machine import QemuMachine


@pytest.fixture
def files(tmp_path):
    disk = devices.make_disk_image(str(tmp_path / "disk.qcow2"), b"head",
                                   1 << 20)
    iso = cidata.make_cidata_iso(tmp_path / "cidata.iso",
                                 cidata.workload_user_data())
    return tmp_path, disk, str(iso)


def start(qemu, tmp_path, extra, rrsnapshot=None):
    spec = BootSpec(arch="x86_64", machine="pc", kernel="/nonexistent",
                    extra_args=extra, net_none=False, rrsnapshot=rrsnapshot)
    argv = qemu_argv(qemu, spec, "record", str(tmp_path / "r.bin"),
                     str(tmp_path / "console.log"))
    argv.remove("-kernel")
    argv.remove("/nonexistent")
    machine = QemuMachine(argv, str(tmp_path), "devices")
    machine.launch()
    return machine


def blocks(machine):
    return {b["device"] or b["qdev"]: b for b in machine.cmd("query-block")}


def test_drive_syntax_snapshot_blkreplay_cdrom_net(qemu_x86_64, files):
    tmp_path, disk, iso = files
    extra = (devices.disk_args(disk) + devices.cdrom_args(iso, "ide-cd") +
             devices.net_args())
    with start(qemu_x86_64, tmp_path, extra) as machine:
        found = blocks(machine)
        rr = found["disk0-rr"]["inserted"]
        assert rr["drv"] == "blkreplay" and not rr["ro"]
        # snapshot=on: the node under blkreplay is a temporary qcow2 whose
        # backing file is the image
        assert rr["image"]["backing-image"]["backing-image"]["filename"] \
            == disk or disk in json.dumps(rr["image"])
        cd = found["cd"]["inserted"]
        assert cd["drv"] == "blkreplay" and cd["ro"]
        assert cd["image"]["backing-image"]["filename"] == iso or \
            iso in json.dumps(cd["image"])
        assert found["cd"]["removable"]
        objects = machine.cmd("qom-list", path="/objects")
        assert "net0-replay" in [o["name"] for o in objects]
        assert machine.cmd("qom-get", path="/objects/net0-replay",
                           property="netdev") == "net0"
        assert machine.cmd("query-replay")["mode"] == "record"
        machine.quit()
    assert (tmp_path / "disk.qcow2").read_bytes()  # untouched, still there


def test_blockdev_syntax_over_an_overlay(qemu_x86_64, files):
    tmp_path, disk, iso = files
    overlay = devices.make_overlay(disk, str(tmp_path / "ov.qcow2"))
    extra = (devices.scsi_controller_args() +
             devices.disk_args(disk, syntax="blockdev", overlay=overlay) +
             devices.cdrom_args(iso, "scsi-cd", "plain"))
    with start(qemu_x86_64, tmp_path, extra) as machine:
        nodes = {n["node-name"]: n for n in
                 machine.cmd("query-named-block-nodes")}
        assert nodes["disk0-rr"]["drv"] == "blkreplay"
        assert nodes["disk0"]["drv"] == "qcow2"
        assert nodes["disk0"]["file"] == overlay
        found = blocks(machine)
        assert found["cd"]["inserted"]["drv"] == "raw"
        assert found["cd"]["inserted"]["ro"]
        machine.quit()


def test_rrsnapshot_drive_gets_the_init_snapshot(qemu_x86_64, files):
    tmp_path, disk, _ = files
    overlay = devices.make_overlay(disk, str(tmp_path / "ov.qcow2"))
    snap = devices.make_empty_qcow2(str(tmp_path / "snap.qcow2"))
    extra = (devices.disk_args(disk, overlay=overlay) +
             devices.rrsnapshot_drive_args(snap))
    with start(qemu_x86_64, tmp_path, extra, rrsnapshot="init") as machine:
        assert "-icount" in machine.argv
        assert any("rrsnapshot=init" in a for a in machine.argv)
        machine.quit()
    snapshots = {}
    for image in (snap, overlay):
        info = json.loads(devices.qemu_img("info", "--output=json", image))
        snapshots[image] = info.get("snapshots", [])
    # every writable drive gets a disk snapshot "init" at icount 0; the VM
    # state goes into the first drive that can hold it (the disk here), so
    # the rrsnap drive is needed only by machines without a writable disk
    assert [s["name"] for s in snapshots[snap]] == ["init"]
    assert snapshots[snap][0]["vm-state-size"] == 0
    # QEMU 7.2 snapshots the disk twice, once per drive reaching it (the
    # -drive of the overlay and the blkreplay drive over it); the first
    # snapshot carries the VM state
    assert [s["name"] for s in snapshots[overlay]] == ["init", "init"]
    assert snapshots[overlay][0]["vm-state-size"] > 0
    assert snapshots[overlay][1]["vm-state-size"] == 0
    assert all(s["icount"] == 0 for s in snapshots[snap] + snapshots[overlay])
