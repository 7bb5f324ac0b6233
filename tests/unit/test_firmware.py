"""Firmware images and machine names, as the installed QEMU reports them."""

import shutil

import pytest

from avocado_rr.firmware import FirmwareNotFound, data_dirs, find_firmware
from avocado_rr.qemu_binary import QemuNotFound, machine_names

PPC = shutil.which("qemu-system-ppc")
X86 = shutil.which("qemu-system-x86_64")
needs_qemu = pytest.mark.skipif(not (PPC and X86),
                                reason="make qemu installs Debian's QEMU")


@needs_qemu
def test_the_data_dirs_are_those_qemu_lists():
    dirs = data_dirs(PPC)
    assert "/usr/share/qemu" in dirs


@needs_qemu
def test_a_shipped_image_is_found_where_qemu_would_load_it():
    path = find_firmware(PPC, "openbios-ppc")
    assert path.endswith("/openbios-ppc")
    with open(path, "rb") as image:
        assert image.read(4) == b"\x7fELF"


@needs_qemu
def test_a_missing_image_names_itself_the_qemu_and_the_dirs():
    with pytest.raises(FirmwareNotFound) as raised:
        find_firmware(PPC, "no-such-firmware.bin")
    message = str(raised.value)
    assert "no-such-firmware.bin" in message and PPC in message
    assert "/usr/share/qemu" in message


def test_an_absolute_path_must_exist(tmp_path):
    image = tmp_path / "fw.bin"
    image.write_bytes(b"\0")
    assert find_firmware("/nonexistent/qemu", str(image)) == str(image)
    with pytest.raises(FirmwareNotFound, match="no such file"):
        find_firmware("/nonexistent/qemu", str(tmp_path / "missing.bin"))


def test_a_qemu_that_cannot_run_is_a_firmware_error():
    with pytest.raises(FirmwareNotFound, match="-L help failed"):
        data_dirs("/nonexistent/qemu-system-ppc")


@needs_qemu
def test_machine_names_include_aliases():
    names = machine_names(X86)
    # "pc" is an alias of the newest pc-i440fx-* type
    assert "pc" in names and "q35" in names
    assert any(name.startswith("pc-i440fx-") for name in names)
    assert "g3beige" in machine_names(PPC)


def test_machine_names_of_a_qemu_that_cannot_run():
    with pytest.raises(QemuNotFound, match="-machine help failed"):
        machine_names("/nonexistent/qemu-system-ppc")
