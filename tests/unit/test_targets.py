"""The target table: one row per architecture, complete where the suite
uses it, and clear errors where it has no answer."""

import dataclasses
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from avocado_rr import targets
from avocado_rr.errors import AvocadoRRError
from avocado_rr.targets import (TABLE, TARGETS, MissingTargetData,
                                QemuBinary, Target, UnknownTarget)

ROOT = Path(__file__).resolve().parents[2]
ASSETS = yaml.safe_load((ROOT / "configs" / "assets.yaml").read_text())[
    "assets"]


def tagged_arches(test_file: str) -> set[str]:
    """The ``arch:`` tags of a file of the replay suite."""
    text = (ROOT / "tests" / "avocado" / test_file).read_text()
    return set(re.findall(r":avocado: tags=.*?arch:([\w-]+)", text))


KERNEL_ARCHES = tagged_arches("replay_kernel.py")
LINUX_ARCHES = tagged_arches("replay_linux.py")


def test_the_suite_has_cases_to_check():
    assert {"x86_64", "aarch64", "s390x", "riscv64"} <= KERNEL_ARCHES
    assert {"x86_64", "i386", "aarch64"} <= LINUX_ARCHES


def test_every_name_has_one_row():
    names = [name for row in TARGETS for name in (row.arch, *row.aliases)]
    assert len(names) == len(set(names))
    assert targets.known() == sorted(row.arch for row in TARGETS)


@pytest.mark.parametrize("arch", sorted(KERNEL_ARCHES | LINUX_ARCHES))
def test_a_booted_arch_has_every_column_a_kernel_case_uses(arch):
    row = targets.target(arch)
    assert row.binary_name == f"qemu-system-{row.qemu_target}"
    for column in ("emulator_package", "debian_arch", "kernel_asset",
                   "console", "gdb_arch"):
        assert row.need(column), column
    assert row in targets.booted()
    kernel = ASSETS[row.kernel_asset]
    assert (kernel["kind"], kernel["arch"]) == ("kernel", row.debian_arch)


@pytest.mark.parametrize("arch", sorted(LINUX_ARCHES))
def test_a_linux_arch_has_its_modules_and_busybox(arch):
    row = targets.target(arch)
    assert row.need("guest_modules")
    assert {"virtio_blk", "virtio_net", "sr_mod", "isofs"} <= set(
        row.guest_modules)
    busybox = ASSETS[f"busybox-{row.debian_arch}"]
    assert (busybox["kind"], busybox["arch"]) == ("busybox", row.debian_arch)


def test_every_kernel_asset_belongs_to_a_row():
    kernels = {name for name, spec in ASSETS.items()
               if spec.get("kind") == "kernel"}
    assert kernels == {row.kernel_asset for row in targets.booted()
                       if row.kernel_asset is not None}


@pytest.mark.skipif(not shutil.which("gdb-multiarch"),
                    reason="gdb-multiarch is not installed")
def test_gdb_knows_every_architecture_name():
    out = subprocess.run(["gdb-multiarch", "-batch", "-ex",
                          "set architecture"], capture_output=True,
                         text=True, check=False)
    # "... hppa1.0, ia64-elf64, ..., m32r2, auto."
    listed = {word.rstrip(".")
              for word in re.split(r"[\s,]+", out.stdout + out.stderr)}
    assert {row.gdb_arch for row in TARGETS if row.gdb_arch} <= listed


def test_an_alias_is_the_same_row():
    assert targets.target("ppc64le") is targets.target("ppc64")
    assert targets.names_of_debian_arch("ppc64el") == {"ppc64", "ppc64le"}
    assert targets.names_of_debian_arch("amd64") == {"x86_64"}


def test_an_unknown_arch_names_itself_the_table_and_the_known_ones():
    with pytest.raises(UnknownTarget) as error:
        targets.target("vax")
    assert isinstance(error.value, AvocadoRRError)
    assert not isinstance(error.value, KeyError)
    message = str(error.value)
    assert "unknown architecture 'vax'" in message
    assert TABLE in message and TABLE == "avocado_rr/targets.py"
    assert ", ".join(targets.known()) in message
    assert targets.find("vax") is None and targets.find(None) is None


def test_an_unknown_arch_names_the_column_asked_for():
    with pytest.raises(UnknownTarget,
                       match=r"no guest console device for unknown "
                             r"architecture 'vax': avocado_rr/targets\.py"):
        targets.need("vax", "console")


@pytest.mark.parametrize("arch, column, what", [
    ("alpha", "console", "guest console device"),
    ("mips", "debian_arch", "Debian architecture"),
    ("arm", "guest_modules", "guest module list"),
    ("mips", "kernel_asset", "kernel asset"),
])
def test_an_empty_column_says_which(arch, column, what):
    with pytest.raises(MissingTargetData) as error:
        targets.need(arch, column)
    message = str(error.value)
    assert f"no {what} for architecture {arch!r}" in message
    assert f"{TABLE} leaves {column} empty" in message
    having = sorted(row.arch for row in TARGETS
                    if getattr(row, column) is not None)
    assert f"set for: {', '.join(having)}" in message
    assert isinstance(error.value, AvocadoRRError)


def test_a_row_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        targets.target("x86_64").console = "ttyS1"
    assert Target("vax", "vax", "vax").need("arch") == "vax"


def test_qemu_binary_is_plain_data():
    qemu = QemuBinary("s390x", "/usr/bin/qemu-system-s390x",
                      "QEMU emulator version 10.0.2", (10, 0, 2))
    assert qemu.version_string == "10.0.2"


def test_the_record_replay_data_stands_without_the_qemu_provider():
    """pair.py is data: it must not pull in finding, fetching or settings."""
    code = ("import sys, avocado_rr.pair; print(' '.join(sorted(sys.modules"
            ")))")
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT,
                            capture_output=True, text=True,
                            check=True).stdout.split()
    for heavy in ("avocado_rr.qemu_binary", "avocado_rr.assets",
                  "avocado_rr.download", "avocado_rr.settings", "yaml"):
        assert heavy not in loaded


def test_the_makefile_reads_the_table_with_the_standard_library_alone():
    """``make qemu`` runs before any venv: no site-packages (-S), no
    PYTHONPATH (-E)."""
    def run(what):
        return subprocess.run(
            [sys.executable, "-E", "-S", "-m", "avocado_rr.targets", what],
            cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert run("binaries").split() == [row.binary_name
                                       for row in targets.booted()]
    packages = run("emulator-packages").split()
    assert packages == sorted({row.emulator_package
                               for row in targets.booted()})
    assert "qemu-system-x86" in packages
    makefile = (ROOT / "Makefile").read_text()
    assert "$(TARGETS_CMD) binaries" in makefile
    assert "$(TARGETS_CMD) emulator-packages" in makefile
