"""The bare-metal guests' table and their build with cross binutils."""

import dataclasses
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from avocado_rr import baremetal, targets
from avocado_rr.baremetal import BareMetalError

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "tests" / "avocado" / "replay_baremetal.py"


@pytest.mark.parametrize("name", sorted(baremetal.GUESTS))
def test_every_guest_has_a_source_a_target_row_and_a_case(name):
    guest = baremetal.GUESTS[name]
    assert guest.name == name == f"{guest.arch}-{guest.machine}"
    source = guest.source.read_text()
    # the source says how it is built, and prints the shared lines
    assert guest.prefix + "as" in source and guest.prefix + "ld" in source
    assert f"{baremetal.START_LINE}{guest.machine}" in source
    assert baremetal.DONE_LINE in source
    row = targets.target(guest.arch)
    assert row in targets.booted()
    assert f'guest = "{name}"' in SUITE.read_text()
    tags = f"arch:{guest.arch},machine:{guest.machine}"
    if guest.cpu:
        tags += f",cpu:{guest.cpu}"
    assert f":avocado: tags={tags}\n" in SUITE.read_text()


@pytest.mark.parametrize("name", sorted(baremetal.GUESTS))
def test_a_guest_builds_in_its_own_file_named_by_its_source(name, tmp_path):
    guest = baremetal.GUESTS[name]
    if not all(shutil.which(tool) for tool in guest.tools):
        pytest.skip(f"make qemu installs {guest.package}")
    image = baremetal.build(name, tmp_path)
    assert image.stat().st_size > 0
    assert image.name.startswith(f"{name}-")
    elf = image.with_suffix(".elf")
    assert elf.read_bytes()[:4] == b"\x7fELF"
    if guest.image == "binary":
        assert image.suffix == ".bin"
        assert image.read_bytes()[:4] != b"\x7fELF"
    assert baremetal.build(name, tmp_path) == image


def test_an_unknown_guest_names_the_known_ones():
    with pytest.raises(BareMetalError, match="known: .*or1k-or1k-sim"):
        baremetal.guest("vax-microvax")


def test_missing_binutils_name_their_debian_package(monkeypatch, tmp_path):
    guest = dataclasses.replace(baremetal.GUESTS["or1k-or1k-sim"],
                                prefix="no-such-cross-")
    monkeypatch.setitem(baremetal.GUESTS, guest.name, guest)
    with pytest.raises(BareMetalError) as raised:
        baremetal.build(guest.name, tmp_path)
    assert "no-such-cross-as is not installed" in str(raised.value)
    assert guest.package in str(raised.value)


def test_an_assembler_error_is_shown_with_its_command(monkeypatch,
                                                      tmp_path):
    guest = baremetal.GUESTS["or1k-or1k-sim"]
    if not shutil.which(guest.tools[0]):
        pytest.skip(f"make qemu installs {guest.package}")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / f"{guest.name}.S").write_text("l.nosuchop r1\n")
    monkeypatch.setattr(baremetal, "GUESTS_DIR", tmp_path / "src")
    with pytest.raises(BareMetalError) as raised:
        baremetal.build(guest.name, tmp_path / "out")
    message = str(raised.value)
    assert "assembling failed" in message and guest.tools[0] in message
    assert "nosuchop" in message


def test_the_makefile_reads_the_table_with_the_standard_library_alone():
    def run(what):
        return subprocess.run(
            [sys.executable, "-E", "-S", "-m", "avocado_rr.baremetal", what],
            cwd=ROOT, capture_output=True, text=True, check=True).stdout
    packages = run("packages").split()
    assert packages == sorted({g.package for g in baremetal.GUESTS.values()})
    tools = run("tools").split()
    assert "or1k-elf-as" in tools and "sh4-linux-gnu-ld" in tools
    makefile = (ROOT / "Makefile").read_text()
    assert "$(BAREMETAL_CMD) packages" in makefile
    assert "$(BAREMETAL_CMD) tools" in makefile
