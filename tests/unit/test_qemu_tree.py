"""A QEMU build's runnable tree from its unpacked .debs (no network)."""

import os

from avocado_rr import qemu_tree


def test_relink_keeps_absolute_links_inside_the_tree(tmp_path):
    root = tmp_path / "tree"
    (root / "usr/share/seabios").mkdir(parents=True)
    (root / "usr/share/seabios/bios-256k.bin").write_bytes(b"tree's")
    (root / "usr/share/qemu").mkdir(parents=True)
    link = root / "usr/share/qemu/bios-256k.bin"
    link.symlink_to("/usr/share/seabios/bios-256k.bin")
    relative = root / "usr/share/qemu/rel.bin"
    relative.symlink_to("../seabios/bios-256k.bin")
    qemu_tree._relink(root)
    assert not os.readlink(link).startswith("/")
    assert link.read_bytes() == b"tree's"
    assert os.readlink(relative) == "../seabios/bios-256k.bin"


def test_emulators_are_elf_binaries_not_debian_s_shell_redirects(tmp_path):
    root = tmp_path / "tree"
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/libexec").mkdir(parents=True)
    (root / "usr/bin/qemu-system-x86_64").write_bytes(b"\x7fELF rest")
    (root / "usr/bin/qemu-system-amd64").symlink_to("qemu-system-x86_64")
    (root / "usr/bin/qemu-system-i386").write_text("#! /bin/sh\nexec ...\n")
    (root / "usr/libexec/qemu-system-i386").write_bytes(b"\x7fELF i386")
    (root / "usr/bin/qemu-make-debian-root").write_text("#! /bin/sh\n")
    found = qemu_tree._emulators(root)
    assert found == {"qemu-system-x86_64": "usr/bin/qemu-system-x86_64",
                     "qemu-system-amd64": "usr/bin/qemu-system-x86_64",
                     "qemu-system-i386": "usr/libexec/qemu-system-i386"}
