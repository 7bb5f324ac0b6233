"""QEMU builds as assets: catalogue, lock, cache (no network)."""

import os
from pathlib import Path

import pytest

from avocado_rr import qemu_binary, qemu_builds, qemu_tree
from avocado_rr.qemu_builds import (LockedBuild, LockedPackage, QemuBuilds,
                                    QemuBuildError)

REPO = Path(__file__).resolve().parents[2]


def _locked(version="11.1", sha="a" * 64):
    return LockedBuild(version=version,
                       debian_version="1:11.1.3+ds-2~bpo13+1",
                       host_arch="amd64",
                       packages=(LockedPackage("qemu-system-x86",
                                               "1:11.1.3+ds-2~bpo13+1",
                                               "amd64", sha, 10),))


@pytest.fixture
def builds(tmp_path):
    lock = tmp_path / "qemu.lock"
    return QemuBuilds.load(lock_path=lock, cache=tmp_path / "cache",
                           update=False)


def test_the_catalogue_has_the_versions_users_test():
    builds = QemuBuilds.load()
    assert builds.versions()[:3] == ["7.2", "10.0", "11.1"]
    for version in builds.versions():
        spec = builds.spec(version)
        assert "qemu-system-x86" in spec.packages
        assert spec.sources and spec.release


def test_the_shipped_lock_pins_every_version_by_sha256():
    builds = QemuBuilds.load()
    for version in builds.versions():
        locked = builds.locked(version)
        assert locked is not None, version
        upstream = qemu_builds.upstream_of(locked.debian_version)
        assert upstream == version or upstream.startswith(version + ".")
        assert all(len(p.sha256) == 64 for p in locked.packages)
        names = {p.name for p in locked.packages}
        assert {"libc6", "qemu-system-x86", "qemu-system-arm",
                "qemu-system-data"} <= names


def test_upstream_of_debian_versions():
    assert qemu_builds.upstream_of("1:11.1.3+ds-2~bpo13+1") == "11.1.3"
    assert qemu_builds.upstream_of("1:7.2+dfsg-7+deb12u18+b3") == "7.2"
    assert qemu_builds.upstream_of("10.0.2-1") == "10.0.2"


def test_an_unknown_version_names_the_known_ones(builds):
    with pytest.raises(QemuBuildError, match=r"'9\.9'.*7\.2, 10\.0, 11\.1"):
        builds.spec("9.9")


def test_an_unlocked_version_is_not_fetched_without_the_update_policy(
        builds):
    with pytest.raises(QemuBuildError,
                       match=r"not locked.*avocado-rr qemu lock 11\.1"):
        builds.fetch("11.1")


def test_offline_a_missing_build_names_the_fetch_command(builds):
    builds._locked["11.1"] = _locked()
    assert builds.status("11.1") == "missing"
    with pytest.raises(qemu_builds.BuildNotFetched,
                       match=r"avocado-rr qemu fetch 11\.1"):
        builds.bin_dir("11.1", fetch=False)


def test_lock_round_trip_and_build_id(builds):
    locked = _locked()
    again = LockedBuild.from_dict("11.1", locked.to_dict())
    assert again == locked
    assert again.build_id == locked.build_id
    assert _locked(sha="b" * 64).build_id != locked.build_id
    builds._locked["11.1"] = locked
    builds._write_lock()
    reread = QemuBuilds.load(lock_path=builds.lock_path, cache=builds.cache)
    assert reread.locked("11.1") == locked


def test_a_finished_tree_is_one_with_the_lock_s_stamp(builds):
    locked = _locked()
    builds._locked["11.1"] = locked
    tree = builds.tree(locked)
    (tree / "bin").mkdir(parents=True)
    (tree / qemu_tree.STAMP).write_text("something else\n")
    assert builds.status("11.1") == "missing"
    (tree / qemu_tree.STAMP).write_text(locked.build_id + "\n")
    assert builds.status("11.1") == "ok"
    assert builds.bin_dir("11.1", fetch=False) == tree / "bin"


def test_find_qemu_offline_names_the_version_and_the_fix(monkeypatch,
                                                         tmp_path):
    monkeypatch.setenv("AVOCADO_RR_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("AVOCADO_RR_OFFLINE", "1")
    qemu_builds.default_builds.cache_clear()
    with pytest.raises(qemu_binary.QemuNotFound,
                       match=r"QEMU 11\.1 is not in the asset cache.*"
                       r"avocado-rr qemu fetch 11\.1"):
        qemu_binary.find_qemu("x86_64", qemu_version="11.1")
    monkeypatch.setenv("AVOCADO_RR_QEMU_VERSION", "11.1")
    with pytest.raises(qemu_binary.QemuNotFound, match=r"QEMU 11\.1"):
        qemu_binary.find_qemu("x86_64")
    qemu_builds.default_builds.cache_clear()


def test_an_env_binary_wins_over_an_env_version_without_fetching(
        monkeypatch, tmp_path):
    """AVOCADO_RR_QEMU_BIN comes before AVOCADO_RR_QEMU_VERSION: the
    version is not even resolved (which could fetch it)."""
    import shutil
    binary = shutil.which("qemu-system-x86_64")
    monkeypatch.setenv("AVOCADO_RR_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("AVOCADO_RR_QEMU_BIN", binary)
    monkeypatch.setenv("AVOCADO_RR_QEMU_VERSION", "11.1")
    monkeypatch.setattr(qemu_binary, "version_bin_dir", lambda v: pytest.fail(
        f"resolved QEMU {v} although AVOCADO_RR_QEMU_BIN applies"))
    assert qemu_binary.find_qemu("x86_64").path == os.path.abspath(binary)
