"""The parts of ReplayLinuxTest that need no QEMU: device arguments, the
guest's marker protocol and the host's HTTP server."""

import hashlib
import re
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from avocado_rr import devices
from avocado_rr.guest import cidata, markers
from avocado_rr.httpserve import FileServer, payload

INIT_SH = Path(markers.__file__).with_name("init.sh")


# -- devices ------------------------------------------------------------
def test_disk_drive_snapshot_behind_blkreplay():
    args = devices.disk_args("/d/disk.qcow2")
    assert args == [
        "-drive", "file=/d/disk.qcow2,format=qcow2,if=none,snapshot=on,"
        "id=disk0",
        "-drive", "driver=blkreplay,if=none,image=disk0,id=disk0-rr",
        "-device", "virtio-blk-pci,drive=disk0-rr"]


def test_disk_overlay_is_writable_and_has_no_snapshot_option():
    args = devices.disk_args("/d/disk.raw", "raw", overlay="/d/ov.qcow2")
    assert args[1] == "file=/d/ov.qcow2,format=qcow2,if=none,id=disk0"
    assert "snapshot=on" not in " ".join(args)


def test_disk_blockdev_nodes_need_an_overlay():
    with pytest.raises(devices.DeviceError, match="overlay"):
        devices.disk_args("/d/disk.qcow2", syntax="blockdev")
    args = devices.disk_args("/d/disk.qcow2", syntax="blockdev",
                             overlay="/d/ov.qcow2", interface="scsi")
    assert args == [
        "-blockdev", "driver=file,filename=/d/ov.qcow2,node-name=disk0-file",
        "-blockdev", "driver=qcow2,file=disk0-file,node-name=disk0",
        "-blockdev", "driver=blkreplay,image=disk0,node-name=disk0-rr",
        "-device", "scsi-hd,drive=disk0-rr,bus=scsi0.0"]


@pytest.mark.parametrize("call, message", [
    (lambda: devices.disk_args("/d/x", "vmdk"), "disk format 'vmdk'"),
    (lambda: devices.disk_args("/d/x", interface="ide"), "disk interface"),
    (lambda: devices.cdrom_args("/d/x", "sata-cd"), "cdrom device"),
    (lambda: devices.cdrom_args("/d/x", mode="rw"), "cdrom mode"),
    (lambda: devices.net_args("now"), "tx mode 'now'"),
    (lambda: devices.disk_args("/d/a,b.qcow2"), "','"),
])
def test_bad_choices_are_refused_by_name(call, message):
    with pytest.raises(devices.DeviceError, match=re.escape(message)):
        call()


def test_cdrom_modes():
    wrapped = devices.cdrom_args("/d/c.iso", "scsi-cd")
    assert wrapped == [
        "-drive", "file=/d/c.iso,format=raw,if=none,media=cdrom,"
        "id=cd-direct,readonly=on",
        "-drive", "driver=blkreplay,if=none,image=cd-direct,id=cd,"
        "readonly=on",
        "-device", "scsi-cd,drive=cd,bus=scsi0.0"]
    plain = devices.cdrom_args("/d/c.iso", "ide-cd", "plain")
    assert plain == ["-drive", "file=/d/c.iso,format=raw,if=none,"
                     "media=cdrom,id=cd,readonly=on",
                     "-device", "ide-cd,drive=cd"]


def test_net_filter_replay_and_tx():
    args = devices.net_args("bh")
    assert "virtio-net-pci,netdev=net0,romfile=,tx=bh" in args
    assert args[-2:] == ["-object",
                         "filter-replay,id=net0-replay,netdev=net0"]


def test_disk_image_head_and_size(tmp_path):
    head = b"x" * 1000
    raw = devices.make_disk_image(str(tmp_path / "d.raw"), head, 1 << 20,
                                  "raw")
    data = Path(raw).read_bytes()
    assert len(data) == 1 << 20 and data[:1000] == head
    assert data[1000:] == bytes(len(data) - 1000)
    qcow = devices.make_disk_image(str(tmp_path / "d.qcow2"), head, 1 << 20)
    out = subprocess.run(["qemu-img", "convert", "-O", "raw", qcow,
                          str(tmp_path / "back.raw")], check=True)
    assert out.returncode == 0
    assert (tmp_path / "back.raw").read_bytes() == data
    assert not (tmp_path / "d.qcow2.raw").exists()
    with pytest.raises(devices.DeviceError, match="exceeds"):
        devices.make_disk_image(str(tmp_path / "e.raw"), head, 10, "raw")


def test_overlay_reads_as_its_base(tmp_path):
    base = devices.make_disk_image(str(tmp_path / "b.qcow2"), b"base!",
                                   1 << 20)
    overlay = devices.make_overlay(base, str(tmp_path / "o.qcow2"))
    info = devices.qemu_img("info", "--output=json", overlay)
    assert '"backing-filename": "%s"' % base in info
    with pytest.raises(devices.DeviceError, match="qemu-img create"):
        devices.make_overlay(str(tmp_path / "missing.qcow2"),
                             str(tmp_path / "o2.qcow2"))


# -- markers ------------------------------------------------------------
HEAD = bytes(range(256)) * 4 * 256   # 256 KiB
BODY = payload(4096)


def transcript(*lines: str) -> bytes:
    return b"".join(b"[    1.0] noise\r\n" + b"AVOCADO-RR: " +
                    line.encode() + b"\r\n" for line in lines)


def good_lines():
    return ["init", "modules-loaded", "cidata /dev/sr0",
            "instance-id avocado-rr", "user-data-start",
            f"disk-before /dev/vda {hashlib.sha256(HEAD).hexdigest()}",
            "disk-written " + hashlib.sha256(
                markers.disk_pattern(256)).hexdigest(),
            "disk-readback " + hashlib.sha256(
                markers.disk_pattern(256)).hexdigest(),
            "disk-ok", "net-up eth0 10.0.2.15/24 via 10.0.2.2",
            "http-status HTTP/1.0 200 OK",
            f"http-sha256 {hashlib.sha256(BODY).hexdigest()} size=4096",
            "workload-done", "user-data-done rc=0", "poweroff"]


def expected():
    return markers.expected_markers("/dev/vda", HEAD, 256, BODY)


def test_markers_ignore_other_lines_and_carriage_returns():
    assert markers.markers(transcript("a b", "c")) == ["a b", "c"]
    assert markers.markers(b"xAVOCADO-RR: not at line start\n") == []


def test_the_standard_sequence_passes():
    assert markers.check_markers(transcript(*good_lines()), expected()) \
        is None


def test_disk_pattern_is_what_init_sh_writes():
    # the awk line of rr_pattern, so host and guest can't drift apart
    assert 'printf "avocado-rr block %014d\\n", i' in INIT_SH.read_text()
    pattern = markers.disk_pattern(2)
    assert len(pattern) == 2048
    assert pattern.splitlines()[63] == b"avocado-rr block 00000000000063"


@pytest.mark.parametrize("index, replacement, message", [
    (5, "disk-before /dev/vda " + "0" * 64, "marker 6 is 'disk-before"),
    (11, "http-sha256 " + "0" * 64 + " size=4096", "marker 12"),
    (10, "http-status HTTP/1.0 404 Not Found", "marker 11"),
    (13, "user-data-done rc=1", "marker 14"),
])
def test_a_wrong_value_is_named(index, replacement, message):
    lines = good_lines()
    lines[index] = replacement
    problem = markers.check_markers(transcript(*lines), expected())
    assert problem and problem.startswith(message)


def test_missing_and_unexpected_markers():
    lines = good_lines()
    problem = markers.check_markers(transcript(*lines[:9]), expected())
    assert problem.startswith("marker 10 /net-up") and "'disk-ok'" in problem
    problem = markers.check_markers(transcript(*lines, "extra"), expected())
    assert problem == "unexpected marker 16: 'extra'"
    swapped = lines[:8] + [lines[9], lines[8]] + lines[10:]
    assert markers.check_markers(transcript(*swapped), expected())


def test_expected_markers_follow_the_workload_options():
    names = [p.pattern.split()[0] for p in markers.expected_markers()]
    assert "disk-ok" not in names and "net-up" not in names
    with pytest.raises(ValueError, match="first 256 KiB"):
        markers.expected_markers("/dev/vda", b"short")


def test_workload_user_data_calls_what_expected_markers_expects():
    script = cidata.workload_user_data("/dev/vda", 256, http_port=8080)
    assert "rr_disk /dev/vda 256" in script
    assert "rr_http_get 10.0.2.2 8080 /payload.bin" in script
    # each helper used prints the markers expected of it in init.sh
    init = INIT_SH.read_text()
    for marker in ("disk-before", "disk-written", "disk-readback",
                   "disk-ok", "net-up", "http-status", "http-sha256",
                   "user-data-done rc=", "poweroff"):
        assert f"rr_marker {marker}" in init or \
            f'rr_marker "{marker}' in init, marker


# -- HTTP server --------------------------------------------------------
def test_file_server_serves_counts_and_stops():
    body = payload(1000)
    with FileServer({"/f": body}) as server:
        url = f"http://127.0.0.1:{server.port}"
        assert urllib.request.urlopen(url + "/f").read() == body
        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(url + "/nothing")
        assert error.value.code == 404
        assert server.requests == [("/f", 200), ("/nothing", 404)]
    assert not server.running
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url + "/f", timeout=5)


def test_payload_is_deterministic():
    assert payload(100) == payload(100)
    assert payload(100) != payload(100, seed=b"other")
    assert len(payload(65536)) == 65536
    assert hashlib.sha256(payload()).hexdigest().startswith("4d4e8a84")


def test_bad_served_path():
    with pytest.raises(ValueError, match="start with /"):
        FileServer({"f": b""})
