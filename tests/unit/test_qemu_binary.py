"""Which QEMU is under test: explicit, then environment, then PATH."""

import os
import stat

import pytest

from avocado_rr.qemu_binary import (QemuNotFound, binary_name, find_qemu,
                                    identify)


def fake_qemu(directory, name, version="9.1.50"):
    """A stand-in executable that prints a QEMU-style version line and
    counts its runs in ``<name>.runs`` (only the lookup order and the
    version cache are under test here; it never emulates anything)."""
    path = directory / name
    path.write_text(f"#!/bin/sh\necho run >> '{path}.runs'\n"
                    f"echo 'QEMU emulator version {version}'\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    monkeypatch.delenv("AVOCADO_RR_QEMU_BIN", raising=False)
    monkeypatch.delenv("AVOCADO_RR_QEMU_BUILD_DIR", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "path") + os.pathsep +
                       os.environ["PATH"])
    (tmp_path / "path").mkdir()
    monkeypatch.setenv("AVOCADO_RR_CACHE_DIR", str(tmp_path / "cache"))
    identify.cache_clear()
    yield
    identify.cache_clear()


def runs(binary):
    with open(f"{binary}.runs") as counts:
        return len(counts.readlines())


def test_binary_names():
    assert binary_name("x86_64") == "qemu-system-x86_64"
    assert binary_name("mipsel") == "qemu-system-mipsel"
    with pytest.raises(QemuNotFound, match="unknown architecture 'vax'"):
        binary_name("vax")


def test_explicit_binary_wins(tmp_path):
    explicit = fake_qemu(tmp_path, "qemu-system-x86_64", "8.2.1")
    fake_qemu(tmp_path / "path", "qemu-system-x86_64", "1.0.0")
    qemu = find_qemu("x86_64", qemu_bin=explicit)
    assert qemu.path == explicit
    assert qemu.version == (8, 2, 1)
    assert "8.2.1" in qemu.version_line


def test_build_dir_then_path(tmp_path, monkeypatch):
    build = tmp_path / "build"
    build.mkdir()
    fake_qemu(build, "qemu-system-aarch64", "9.2.0")
    monkeypatch.setenv("AVOCADO_RR_QEMU_BUILD_DIR", str(build))
    assert find_qemu("aarch64").version == (9, 2, 0)
    fake_qemu(tmp_path / "path", "qemu-system-ppc64", "7.0.0")
    assert find_qemu("ppc64").version == (7, 0, 0)   # not in the build dir


def test_env_binary_only_for_its_arch(tmp_path, monkeypatch):
    monkeypatch.setenv("AVOCADO_RR_QEMU_BIN",
                       fake_qemu(tmp_path, "qemu-system-arm", "6.2.0"))
    fake_qemu(tmp_path / "path", "qemu-system-i386", "5.0.0")
    assert find_qemu("arm").version == (6, 2, 0)
    assert find_qemu("i386").version == (5, 0, 0)


def test_missing_explicit_binary_names_what_was_tried(tmp_path):
    with pytest.raises(QemuNotFound) as error:
        find_qemu("x86_64", qemu_bin=str(tmp_path / "nope"))
    assert str(tmp_path / "nope") in str(error.value)


def test_missing_arch_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "path"))
    with pytest.raises(QemuNotFound) as error:
        find_qemu("s390x")
    assert "apt-get install qemu-system-s390x" in str(error.value)


def test_version_is_probed_once_per_binary(tmp_path):
    binary = fake_qemu(tmp_path, "qemu-system-x86_64", "8.2.1")
    assert find_qemu("x86_64", qemu_bin=binary).version == (8, 2, 1)
    identify.cache_clear()              # as in the next test's process
    again = find_qemu("x86_64", qemu_bin=binary)
    assert again.version == (8, 2, 1)
    assert "8.2.1" in again.version_line
    assert runs(binary) == 1


def test_rebuilt_binary_is_probed_again(tmp_path):
    binary = fake_qemu(tmp_path, "qemu-system-x86_64", "8.2.1")
    find_qemu("x86_64", qemu_bin=binary)
    built = os.stat(binary).st_mtime_ns
    os.unlink(binary)
    fake_qemu(tmp_path, "qemu-system-x86_64", "9.0.0")
    # a rebuild comes later (the inode may be reused, the size the same)
    os.utime(binary, ns=(built + 10**9, built + 10**9))
    identify.cache_clear()
    assert find_qemu("x86_64", qemu_bin=binary).version == (9, 0, 0)


def test_unwritable_cache_still_identifies(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("AVOCADO_RR_CACHE_DIR", str(blocker))
    binary = fake_qemu(tmp_path, "qemu-system-x86_64", "8.2.1")
    assert find_qemu("x86_64", qemu_bin=binary).version == (8, 2, 1)
    identify.cache_clear()
    assert find_qemu("x86_64", qemu_bin=binary).version == (8, 2, 1)
    assert runs(binary) == 2


def test_binary_that_does_not_run(tmp_path):
    binary = tmp_path / "qemu-system-x86_64"
    binary.write_text("#!/bin/sh\nexit 3\n")
    binary.chmod(0o755)
    with pytest.raises(QemuNotFound, match="does not run"):
        find_qemu("x86_64", qemu_bin=str(binary))
    assert not (tmp_path / "cache" / "qemu-versions").exists() or \
        not any((tmp_path / "cache" / "qemu-versions").iterdir())
