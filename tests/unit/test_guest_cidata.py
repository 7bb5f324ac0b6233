"""NoCloud ISOs, read back with pycdlib and with isoinfo (genisoimage)."""

import shutil
import subprocess

import pytest

from avocado_rr.guest import cidata

ISOINFO = shutil.which("isoinfo")


def isoinfo(*args: str) -> str:
    assert ISOINFO, "isoinfo is needed: apt-get install genisoimage"
    return subprocess.run([ISOINFO, *args], check=True, text=True,
                          capture_output=True).stdout


@pytest.fixture
def iso(tmp_path):
    return cidata.make_cidata_iso(
        tmp_path / "cidata.iso",
        cidata.workload_user_data(http_port=8080),
        cidata.default_meta_data("test-42"))


def test_pycdlib_reads_back_files_and_volume_id(iso):
    assert cidata.volume_id(iso) == "cidata"
    files = cidata.read_cidata(iso)
    assert set(files) == {"user-data", "meta-data"}
    assert files["meta-data"] == (b"instance-id: test-42\n"
                                  b"local-hostname: avocado-rr\n")
    assert files["user-data"].startswith(b"#!/bin/sh\n")
    assert b"rr_http_get 10.0.2.2 8080 /payload.bin\n" in files["user-data"]


def test_isoinfo_sees_cidata_and_both_names(iso):
    assert "Volume id: cidata" in isoinfo("-d", "-i", str(iso))
    for mode in ("-R", "-J"):
        listing = isoinfo(mode, "-l", "-i", str(iso))
        names = {line.split()[-1] for line in listing.splitlines()
                 if line.startswith(("-", "d"))}
        assert {"user-data", "meta-data"} <= names, (mode, listing)
    content = isoinfo("-R", "-x", "/meta-data", "-i", str(iso))
    assert content == "instance-id: test-42\nlocal-hostname: avocado-rr\n"


def test_same_content_same_bytes():
    one = cidata.cidata_bytes("#!/bin/sh\ntrue\n")
    two = cidata.cidata_bytes("#!/bin/sh\ntrue\n")
    assert one == two
    assert cidata.cidata_bytes("#!/bin/sh\nfalse\n") != one


def test_dates_are_fixed(iso):
    listing = isoinfo("-R", "-l", "-i", str(iso))
    assert "Jan  1 2020" in listing


def test_network_config_is_optional(tmp_path):
    path = cidata.make_cidata_iso(tmp_path / "n.iso", "#!/bin/sh\n",
                                  network_config="version: 2\n")
    assert cidata.read_cidata(path)["network-config"] == b"version: 2\n"


def test_workload_without_network_or_disk():
    script = cidata.workload_user_data(disk=None)
    assert "rr_disk" not in script and "rr_http_get" not in script
    assert script.endswith("rr_marker workload-done\n")


@pytest.mark.parametrize("kwargs", [
    {"disk": "vda"}, {"disk": "/dev/vda; reboot"}, {"disk_kib": 0},
    {"http_port": 70000}, {"http_port": 80, "http_path": "x"},
    {"http_port": 80, "http_path": "/a$(reboot)"},
])
def test_bad_workload_arguments(kwargs):
    with pytest.raises(cidata.CidataError):
        cidata.workload_user_data(**kwargs)


def test_bad_meta_data():
    with pytest.raises(cidata.CidataError, match="instance_id"):
        cidata.default_meta_data("a\nb")
    with pytest.raises(cidata.CidataError, match="user_data"):
        cidata.cidata_bytes(42)
