"""LinuxGuest, the full-boot guest built without Avocado: its inputs,
device arguments, boot spec and workload checks (no QEMU runs)."""

import hashlib
import json
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest

from avocado_rr import devices
from avocado_rr.guest import cidata, initramfs, markers
from avocado_rr.guest.linux import (DISK_HEAD, DISK_KIB, FINAL_PATTERN,
                                    HTTP_PATH, LinuxDevices, LinuxGuest,
                                    linux_device_args)
from avocado_rr.pair import ReplayOutcome
from avocado_rr.verdict import VerdictKind


@pytest.fixture
def kernel(tmp_path):
    path = tmp_path / "vmlinuz"
    path.write_bytes(b"not a kernel")
    return str(path)


@pytest.fixture
def fake_initramfs(tmp_path, monkeypatch):
    """The initramfs is built from the catalogue's packages elsewhere."""
    path = tmp_path / "initramfs.cpio.gz"
    path.write_bytes(b"initramfs")
    calls = []

    def build(catalogue, arch):
        calls.append((catalogue, arch))
        return path
    monkeypatch.setattr(initramfs, "build_initramfs_for", build)
    return calls


def prepared(tmp_path, kernel, **choices):
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    guest = LinuxGuest(str(out), "x86_64", LinuxDevices(**choices))
    guest.prepare("catalogue", kernel)
    return guest


def transcript(guest, **replace) -> bytes:
    """What a guest that did everything right prints."""
    inputs = guest.inputs
    written = hashlib.sha256(markers.disk_pattern(DISK_KIB)).hexdigest()
    lines = {
        "init": "init", "modules": "modules-loaded",
        "cidata": "cidata /dev/sr0", "instance": "instance-id avocado-rr",
        "start": "user-data-start",
        "before": f"disk-before {inputs.guest_disk} "
                  f"{hashlib.sha256(DISK_HEAD).hexdigest()}",
        "written": f"disk-written {written}",
        "readback": f"disk-readback {written}", "disk_ok": "disk-ok",
        "net": "net-up eth0 10.0.2.15/24 via 10.0.2.2",
        "status": "http-status HTTP/1.0 200 OK",
        "http": f"http-sha256 {hashlib.sha256(inputs.http_body).hexdigest()}"
                f" size={len(inputs.http_body)}",
        "done": "workload-done", "rc": "user-data-done rc=0",
        "final": "poweroff"}
    lines.update(replace)
    return b"".join(b"[ 1.0] x\r\n" + markers.PREFIX.encode() +
                    line.encode() + b"\r\n" for line in lines.values())


def test_prepare_builds_every_input_and_serves_the_file(
        tmp_path, kernel, fake_initramfs):
    with prepared(tmp_path, kernel, disk_format="raw") as guest:
        inputs = guest.inputs
        assert fake_initramfs == [("catalogue", "x86_64")]
        out = Path(guest.outdir)
        assert inputs.disk_image == str(out / "disk.raw")
        assert Path(inputs.disk_image).read_bytes()[:len(DISK_HEAD)] == \
            DISK_HEAD
        assert inputs.guest_disk == "/dev/vda"
        url = f"http://127.0.0.1:{inputs.http_port}{HTTP_PATH}"
        assert urllib.request.urlopen(url).read() == inputs.http_body
        assert (out / "user-data").read_text() == inputs.user_data
        assert f"rr_http_get 10.0.2.2 {inputs.http_port} {HTTP_PATH}" in \
            inputs.user_data
        assert cidata.read_cidata(inputs.iso)["user-data"] == \
            inputs.user_data.encode()
        recorded = json.loads((out / "inputs.json").read_text())
        assert list(recorded) == [
            "kernel", "kernel_sha256", "initramfs", "initramfs_sha256",
            "disk_image", "disk_sha256", "iso", "iso_sha256", "http_sha256",
            "http_port"]
        assert recorded["kernel_sha256"] == hashlib.sha256(
            b"not a kernel").hexdigest()
        assert recorded["http_port"] == inputs.http_port
    assert guest.server is None
    with pytest.raises(OSError):
        urllib.request.urlopen(url, timeout=5)


def test_a_bad_disk_interface_is_a_device_error(tmp_path, kernel,
                                                fake_initramfs):
    with pytest.raises(devices.DeviceError, match="disk interface 'ide'"):
        prepared(tmp_path, kernel, disk_interface="ide")


def test_boot_spec_and_device_args_of_the_default_guest(
        tmp_path, kernel, fake_initramfs):
    with prepared(tmp_path, kernel) as guest:
        spec = guest.boot_spec("pc", "ttyS0", shift=6, extra_args=("-x",))
    inputs = guest.inputs
    assert spec.kernel == kernel and spec.initrd == inputs.initramfs
    assert spec.append == "printk.time=1 panic=-1 console=ttyS0"
    assert (spec.shift, spec.net_none, spec.rrsnapshot) == (6, False, None)
    assert spec.extra_args == (
        devices.disk_args(inputs.disk_image) +
        devices.cdrom_args(inputs.iso, "ide-cd") + devices.net_args() +
        ["-x"])


def test_scsi_overlay_and_rrsnapshot_args(tmp_path, kernel, fake_initramfs):
    with prepared(tmp_path, kernel, cdrom_device="scsi-cd",
                  rrsnapshot="init") as guest:
        choices = guest.devices
        assert choices.uses_overlay
        args = guest.device_args()
    out = Path(guest.outdir)
    assert args[:2] == devices.scsi_controller_args()
    assert f"file={out / 'disk-overlay.qcow2'},format=qcow2" in " ".join(args)
    assert args[-2:] == devices.rrsnapshot_drive_args(
        str(out / "rrsnapshot.qcow2"))
    assert (out / "rrsnapshot.qcow2").exists()
    assert guest.boot_spec("virt", "ttyAMA0").rrsnapshot == "init"
    with pytest.raises(devices.DeviceError, match="snapshot drive"):
        linux_device_args(guest.inputs, choices)


def test_between_phases_accepts_the_workload_and_stops_the_server(
        tmp_path, kernel, fake_initramfs):
    guest = prepared(tmp_path, kernel)
    recording = SimpleNamespace(
        recorded_console=lambda: transcript(guest), icount=10,
        record_time=1.0, qemu_version="QEMU emulator version 7.2.22")
    assert guest.between_phases(recording) is None
    assert guest.server is None


@pytest.mark.parametrize("replace,reason", [
    ({"rc": "user-data-done rc=1"}, "marker 14 is 'user-data-done rc=1'"),
    ({"http": "http-sha256 " + "0" * 64 + " size=1"}, "marker 12 is"),
])
def test_between_phases_fails_a_wrong_workload(
        tmp_path, kernel, fake_initramfs, replace, reason):
    guest = prepared(tmp_path, kernel)
    recording = SimpleNamespace(
        recorded_console=lambda: transcript(guest, **replace), icount=10,
        record_time=1.0, qemu_version="QEMU emulator version 7.2.22")
    verdict = guest.between_phases(recording)
    assert verdict.verdict == VerdictKind.RECORD_FAILED
    assert verdict.reason.startswith("the recorded workload went wrong: "
                                     + reason)
    assert verdict.qemu_version == recording.qemu_version
    assert verdict.recorded_icount == 10


def test_replay_checks_markers_and_the_disk_image(tmp_path, kernel,
                                                  fake_initramfs):
    guest = prepared(tmp_path, kernel)
    guest.stop_server()
    console = tmp_path / "replay-console.log"
    console.write_bytes(transcript(guest))
    outcome = ReplayOutcome("stopped", 10, console=str(console))
    checks = guest.replay_checks(None, outcome)
    assert [(c.name, c.passed) for c in checks] == [
        ("markers", True), ("disk image", True)]
    Path(guest.inputs.disk_image).write_bytes(b"changed")
    console.write_bytes(transcript(guest)[:200])
    checks = guest.replay_checks(None, outcome)
    assert [(c.name, c.passed) for c in checks] == [
        ("markers", False), ("disk image", False)]


def test_final_pattern_is_the_last_marker():
    assert FINAL_PATTERN == "AVOCADO-RR: poweroff"
    assert LinuxDevices.names() == (
        "disk_interface", "disk_format", "disk_syntax", "cdrom_device",
        "cdrom_mode", "net_tx", "rrsnapshot")
