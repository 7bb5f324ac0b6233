"""The newc writer, read back by GNU cpio (Debian's cpio package)."""

import shutil
import stat
import subprocess

import pytest

from avocado_rr.guest.cpio import Archive, CpioError, Entry, write_archive

CPIO = shutil.which("cpio")


def sample() -> Archive:
    archive = Archive()
    archive.add_file("init", b"#!/bin/sh\necho hi\n", 0o755)
    archive.add_file("lib/modules/a.ko", b"x" * 5)
    archive.add_symlink("bin/sh", "busybox")
    archive.add_file("bin/busybox", b"\x7fELF" + bytes(range(256)), 0o755)
    archive.add_char_device("dev/console", 5, 1)
    archive.add_directory("proc", 0o555)
    return archive


def run_cpio(args, data, cwd=None):
    assert CPIO, "GNU cpio is needed: apt-get install cpio"
    return subprocess.run([CPIO, *args], input=data, cwd=cwd, check=True,
                          capture_output=True)


def test_same_entries_same_bytes():
    assert sample().to_bytes() == sample().to_bytes()


def test_insertion_order_does_not_matter():
    one, two = Archive(), Archive()
    one.add_file("b", b"2")
    one.add_file("a/x", b"1")
    two.add_file("a/x", b"1")
    two.add_file("b", b"2")
    assert one.to_bytes() == two.to_bytes()


def test_parents_come_first_and_are_implicit():
    paths = [e.path for e in sample().entries()]
    assert paths == ["bin", "bin/busybox", "bin/sh", "dev", "dev/console",
                     "init", "lib", "lib/modules", "lib/modules/a.ko",
                     "proc"]


def test_header_fields_and_padding():
    data = sample().to_bytes()
    assert data.startswith(b"070701")
    assert len(data) % 4 == 0
    # first entry: "bin", inode 1, directory, uid/gid 0, nlink 2, mtime 0
    fields = [int(data[6 + 8 * i:14 + 8 * i], 16) for i in range(13)]
    assert fields[0] == 1
    assert stat.S_ISDIR(fields[1])
    assert fields[2:6] == [0, 0, 2, 0]
    assert fields[11] == len(b"bin\0")
    assert b"TRAILER!!!\0" in data[-128:]


def test_gnu_cpio_lists_entries():
    listing = run_cpio(["-t", "-v", "--quiet"], sample().to_bytes()).stdout
    lines = listing.decode().splitlines()
    names = [line.split()[-1] if "->" not in line else line.split()[-3]
             for line in lines]
    assert names == [e.path for e in sample().entries()]
    console = next(line for line in lines if line.endswith("dev/console"))
    assert console.startswith("crw-------")
    assert "5,   1" in console
    link = next(line for line in lines if "bin/sh" in line)
    assert link.startswith("lrwxrwxrwx") and link.endswith("-> busybox")
    for line in lines:
        assert " root     root " in line
        assert "1970" in line


def test_gnu_cpio_extracts_contents(tmp_path):
    run_cpio(["-i", "-d", "-m", "--quiet", "--no-absolute-filenames"],
             sample().to_bytes(), cwd=tmp_path)
    assert (tmp_path / "init").read_bytes() == b"#!/bin/sh\necho hi\n"
    assert (tmp_path / "init").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "bin/busybox").read_bytes() == \
        b"\x7fELF" + bytes(range(256))
    assert (tmp_path / "bin/sh").readlink().as_posix() == "busybox"
    assert (tmp_path / "lib/modules/a.ko").read_bytes() == b"xxxxx"
    assert (tmp_path / "proc").stat().st_mode & 0o777 == 0o555
    assert (tmp_path / "init").stat().st_mtime == 0


def test_duplicate_path_is_an_error():
    archive = Archive()
    archive.add_file("init", b"1")
    with pytest.raises(CpioError, match="duplicate path 'init'"):
        archive.add_file("/init", b"2")


def test_file_under_a_file_is_an_error():
    archive = Archive()
    archive.add_file("init", b"1")
    with pytest.raises(CpioError, match="not a directory"):
        archive.add_file("init/x", b"2")


@pytest.mark.parametrize("path", ["", "/", "a/../b", "."])
def test_bad_paths(path):
    with pytest.raises(CpioError):
        Archive().add_file(path, b"")


def test_write_archive_from_entries():
    import io
    buf = io.BytesIO()
    write_archive([Entry("x", stat.S_IFREG | 0o600, b"data")], buf)
    names = run_cpio(["-t", "--quiet"], buf.getvalue()).stdout.split()
    assert names == [b"x"]
