"""The initramfs builder, on Debian's real busybox-static and kernel.

The packages (busybox-static, the kernel behind linux-image-amd64) are
fetched once with apt-get into a private apt state and cached under
$AVOCADO_RR_TEST_ASSETS (default build/test-assets/guest).
"""

import gzip
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from avocado_rr.guest import initramfs
from avocado_rr.guest.initramfs import InitramfsError

ROOT = Path(__file__).resolve().parents[2]
ARCH = "amd64"


def _apt(state: Path, *args: str, cwd: Path | None = None) -> str:
    opts = [f"-oAPT::Architecture={ARCH}", f"-oAPT::Architectures={ARCH}",
            f"-oDir::State::Lists={state}/lists",
            f"-oDir::Cache={state}/cache"]
    proc = subprocess.run(["apt-get", *opts, *args], cwd=cwd, text=True,
                          capture_output=True)
    if proc.returncode and args[0] != "update":
        raise RuntimeError(f"apt-get {' '.join(args)}: {proc.stderr}")
    return proc.stdout


def _package(cache: Path, name: str) -> Path:
    """Download and extract a package (once); return its tree."""
    state = cache / "apt"
    if not (state / "lists/partial").is_dir():
        (state / "lists/partial").mkdir(parents=True)
        (state / "cache/archives/partial").mkdir(parents=True)
        _apt(state, "update")
    debs = cache / "debs"
    debs.mkdir(exist_ok=True)
    found = sorted(debs.glob(f"{name}_*.deb"))
    if not found:
        _apt(state, "download", name, cwd=debs)
        found = sorted(debs.glob(f"{name}_*.deb"))
    deb = found[-1]
    root = cache / "roots" / deb.name
    if not root.is_dir():
        tmp = cache / "roots" / (deb.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp)], check=True)
        tmp.rename(root)
    return root


@pytest.fixture(scope="module")
def assets():
    cache = Path(os.environ.get("AVOCADO_RR_TEST_ASSETS",
                                ROOT / "build/test-assets/guest"))
    cache.mkdir(parents=True, exist_ok=True)
    busybox = _package(cache, "busybox-static") / "bin/busybox"
    meta = _package(cache, "linux-image-amd64")
    depends = subprocess.run(
        ["dpkg-deb", "-f", str(next((cache / "debs").glob(
            "linux-image-amd64_*.deb"))), "Depends"],
        check=True, text=True, capture_output=True).stdout
    kernel = re.match(r"(linux-image-[^\s,(]+)", depends).group(1)
    assert meta.is_dir()
    return busybox, _package(cache, kernel)


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
                                      initramfs.GUEST_MODULES["x86_64"],
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


def test_not_a_module():
    with pytest.raises(InitramfsError, match="not an ELF"):
        initramfs.read_modinfo(b"hello")


def test_unknown_arch(assets, tmp_path):
    busybox, kernel = assets
    with pytest.raises(InitramfsError, match="no guest module list"):
        initramfs.build_for_arch("sparc", busybox, kernel, tmp_path)
