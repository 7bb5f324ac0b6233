"""The initramfs builder, on Debian's real busybox-static and kernel.

The packages come from the project's asset catalogue (configs/assets.yaml
and assets.lock: kernel-x86_64 is Debian's cloud-amd64 kernel), fetched
and cached by avocado_rr.assets.
"""

import gzip
import subprocess

import pytest

from avocado_rr import assets as rr_assets
from avocado_rr.guest import initramfs
from avocado_rr.guest.initramfs import InitramfsError
from avocado_rr.targets import target


@pytest.fixture(scope="module")
def catalogue():
    return rr_assets.Catalogue.load()


@pytest.fixture(scope="module")
def assets(catalogue):
    return (catalogue.fetch("busybox-amd64"),
            catalogue.package_root("kernel-x86_64"))


def cpio_list(data: bytes) -> list[str]:
    return subprocess.run(["cpio", "-t", "--quiet"], input=data, check=True,
                          capture_output=True).stdout.decode().split()


def test_two_builds_are_byte_identical(assets, tmp_path):
    busybox, kernel = assets
    one = initramfs.build_for_arch("x86_64", busybox, kernel, tmp_path / "a")
    two = initramfs.build_for_arch("x86_64", busybox, kernel, tmp_path / "b")
    assert one.name == two.name
    assert one.read_bytes() == two.read_bytes()
    # gzip header: no name, mtime 0
    assert one.read_bytes()[3:8] == b"\0\0\0\0\0"


def test_cache_reuses_image_and_tracks_inputs(assets, tmp_path):
    busybox, kernel = assets
    first = initramfs.build_for_arch("x86_64", busybox, kernel, tmp_path)
    stamp = first.stat().st_mtime_ns
    assert initramfs.build_for_arch("x86_64", busybox, kernel,
                                    tmp_path) == first
    assert first.stat().st_mtime_ns == stamp
    init = tmp_path / "init.sh"
    init.write_bytes(initramfs.INIT_SCRIPT.read_bytes() + b"# changed\n")
    other = initramfs.build_initramfs(busybox, kernel, tmp_path,
                                      target("x86_64").guest_modules,
                                      init_script=init)
    assert other != first and other.exists()


def test_contents_and_module_order(assets, tmp_path):
    busybox, kernel = assets
    image = initramfs.build_for_arch("x86_64", busybox, kernel, tmp_path)
    cpio = gzip.decompress(image.read_bytes())
    names = cpio_list(cpio)
    for name in ("init", "bin/busybox", "bin/sh", "dev/console",
                 "etc/avocado-rr/modules", "lib/modules/virtio_blk.ko",
                 "lib/modules/virtio_net.ko", "lib/modules/isofs.ko",
                 "lib/modules/sr_mod.ko", "lib/modules/cdrom.ko",
                 "lib/modules/virtio_ring.ko", "lib/modules/ata_piix.ko"):
        assert name in names
    out = tmp_path / "x"
    out.mkdir()
    subprocess.run(["cpio", "-i", "-d", "--quiet"], input=cpio, cwd=out,
                   check=True)
    order = (out / "etc/avocado-rr/modules").read_text().split()
    assert sorted(order) == sorted(n.split("/")[-1] for n in names
                                   if n.startswith("lib/modules/")
                                   and n.endswith(".ko"))
    # each module comes after everything its .modinfo says it depends on
    tree = initramfs.ModuleTree(kernel)
    for index, module in enumerate(order):
        for dep in tree.depends(initramfs.module_name(module)):
            assert dep + ".ko" in order[:index], (module, dep)
    assert (out / "init").read_bytes() == initramfs.INIT_SCRIPT.read_bytes()
    assert (out / "bin/busybox").read_bytes() == busybox.read_bytes()


def test_modinfo_of_a_real_module(assets):
    _, kernel = assets
    tree = initramfs.ModuleTree(kernel)
    info = initramfs.read_modinfo(tree.modules["virtio_blk"].read_bytes())
    assert info["name"] == ["virtio_blk"]
    assert info["vermagic"][0].startswith(tree.release)
    assert set(tree.depends("virtio_net")) == {"virtio", "virtio_ring",
                                               "net_failover"}


def test_kernel_image(assets):
    _, kernel = assets
    image = initramfs.kernel_image(kernel)
    assert image.name == "vmlinuz-" + initramfs.kernel_release(kernel)


def test_unknown_module_is_an_error(assets, tmp_path):
    busybox, kernel = assets
    with pytest.raises(InitramfsError, match="'no_such_mod' is neither"):
        initramfs.build_initramfs(busybox, kernel, tmp_path,
                                  ["virtio_blk", "no_such_mod"])
    assert not list(tmp_path.iterdir())


def test_dynamic_busybox_is_refused(assets, tmp_path):
    _, kernel = assets
    with pytest.raises(InitramfsError, match="dynamically linked"):
        initramfs.build_initramfs("/bin/ls", kernel, tmp_path, [])


def test_build_from_catalogue(catalogue, tmp_path):
    image = initramfs.build_initramfs_for(catalogue, "aarch64", tmp_path)
    names = cpio_list(gzip.decompress(image.read_bytes()))
    assert "lib/modules/virtio_blk.ko" in names
    # virtio and virtio_ring are built into Debian's arm64 kernel
    assert "lib/modules/virtio_ring.ko" not in names
    assert initramfs.build_initramfs_for(catalogue, "aarch64",
                                         tmp_path) == image


def test_optional_modules(assets, tmp_path):
    busybox, kernel = assets
    tree = initramfs.ModuleTree(kernel)
    # Debian's cloud-amd64 kernel has no AHCI driver, but has ata_piix
    assert "ahci" not in tree.modules and "ahci" not in tree.builtin
    assert [p.name for p in tree.resolve(["cdrom"], optional=["ahci"])] \
        == ["cdrom.ko"]
    piix = [p.name for p in tree.resolve([], optional=["ata_piix"])]
    assert piix[-1] == "ata_piix.ko" and "libata.ko" in piix
    assert [p.name for p in tree.resolve([], optional=["no_such_mod"])] == []


def test_not_a_module():
    with pytest.raises(InitramfsError, match="not an ELF"):
        initramfs.read_modinfo(b"hello")


def test_unknown_arch(assets, tmp_path):
    busybox, kernel = assets
    with pytest.raises(InitramfsError, match="no guest module list"):
        initramfs.build_for_arch("sparc", busybox, kernel, tmp_path)
