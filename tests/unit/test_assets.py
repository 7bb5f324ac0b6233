"""Tests of the asset catalogue, the Debian source and the URL source.

The URL tests talk to a real ``http.server`` on 127.0.0.1 through real
``requests``. The Debian tests use apt against Debian's archive (the one
network service these machines reach) with a private cache per test
session; they fetch the small busybox-static package.
"""

from __future__ import annotations

import hashlib
import http.server
import multiprocessing
import threading
from pathlib import Path

import pytest
import yaml

from avocado_rr import assets, assetscli, debian
from avocado_rr.assets import (AssetError, AssetNotFound, AssetUnavailable,
                               Catalogue, HashMismatch, NotLocked,
                               resolve_asset)
from avocado_rr.download import (ChecksumMismatch, DownloadError,
                                 StderrProgress, fetch_url)

PAYLOAD = bytes(range(256)) * 4096          # 1 MiB
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


# -- a real HTTP server with Range support and a failure mode --------------

class Handler(http.server.BaseHTTPRequestHandler):
    """Serves PAYLOAD at /file; /cut sends half of it and hangs up."""

    ranges: list[str | None] = []
    cut_once = True

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_GET(self):  # noqa: N802 - http.server API
        rng = self.headers.get("Range")
        type(self).ranges.append(rng)
        if self.path not in ("/file", "/cut"):
            self.send_error(404, "Not Found")
            return
        start = int(rng[len("bytes="):].rstrip("-")) if rng else 0
        if start >= len(PAYLOAD):
            self.send_response(416)
            self.end_headers()
            return
        body = PAYLOAD[start:]
        self.send_response(206 if rng else 200)
        if rng:
            self.send_header("Content-Range", f"bytes {start}-"
                             f"{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.path == "/cut" and type(self).cut_once:
            type(self).cut_once = False
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


@pytest.fixture
def server():
    Handler.ranges = []
    Handler.cut_once = True
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


class TestFetchUrl:

    def test_download_and_progress(self, server, tmp_path):
        seen = []
        path = fetch_url(f"{server}/file", tmp_path / "f.bin", PAYLOAD_SHA,
                         progress=lambda done, total: seen.append(
                             (done, total)))
        assert path.read_bytes() == PAYLOAD
        assert seen[-1] == (len(PAYLOAD), len(PAYLOAD))
        assert not (tmp_path / "f.bin.part").exists()

    def test_resume_after_interruption(self, server, tmp_path):
        dest = tmp_path / "f.bin"
        with pytest.raises(DownloadError, match="interrupted"):
            fetch_url(f"{server}/cut", dest, PAYLOAD_SHA)
        part = tmp_path / "f.bin.part"
        assert not dest.exists()
        half = part.stat().st_size
        assert 0 < half < len(PAYLOAD)
        fetch_url(f"{server}/cut", dest, PAYLOAD_SHA)
        assert Handler.ranges == [None, f"bytes={half}-"]
        assert dest.read_bytes() == PAYLOAD
        assert not part.exists()

    def test_hash_mismatch_keeps_bytes_aside(self, server, tmp_path):
        dest = tmp_path / "f.bin"
        wrong = "0" * 64
        with pytest.raises(ChecksumMismatch) as err:
            fetch_url(f"{server}/file", dest, wrong)
        assert err.value.expected == wrong
        assert err.value.actual == PAYLOAD_SHA
        assert PAYLOAD_SHA in str(err.value)
        assert not dest.exists()
        assert (tmp_path / "f.bin.rejected").read_bytes() == PAYLOAD

    def test_404(self, server, tmp_path):
        with pytest.raises(DownloadError, match=r"/nope: HTTP 404"):
            fetch_url(f"{server}/nope", tmp_path / "x", PAYLOAD_SHA)

    def test_missing_hash_refused(self, server, tmp_path):
        with pytest.raises(ValueError, match="without a sha256"):
            fetch_url(f"{server}/file", tmp_path / "x", "")
        assert Handler.ranges == []

    def test_connection_refused(self, tmp_path):
        with pytest.raises(DownloadError, match="cannot fetch"):
            fetch_url("http://127.0.0.1:9/x", tmp_path / "x", PAYLOAD_SHA)

    def test_stderr_progress(self):
        import io
        out = io.StringIO()
        prog = StderrProgress("thing", out)
        prog(0, 2_000_000)
        prog(2_000_000, 2_000_000)
        assert "thing" in out.getvalue()
        assert "100.0%" in out.getvalue()


# -- catalogue loading and URL/manual assets --------------------------------

def write_catalogue(tmp_path: Path, entries: dict) -> Path:
    path = tmp_path / "assets.yaml"
    path.write_text(yaml.safe_dump({"assets": entries}))
    return path


class TestCatalogue:

    def test_project_catalogue_loads(self):
        cat = Catalogue.load()
        kernels = cat.names(kind="kernel")
        assert len(kernels) >= 8
        assert cat.names(arch="x86_64") == cat.names(arch="amd64")
        assert "kernel-aarch64" in cat.names(arch="aarch64")
        for name in kernels:
            entry = cat.locked(name)
            assert entry is not None, f"{name} is not in assets.lock"
            assert len(entry.sha256) == 64
            assert entry.package.startswith("linux-image-6.")

    @pytest.mark.parametrize("entry, message", [
        ({"url": "http://x/y"}, "has no sha256"),
        ({"package": "busybox-static"}, "needs 'arch' and 'path'"),
        ({"arch": "amd64"}, "needs a 'package'"),
        ({"package": "p", "arch": "a", "path": "p", "colour": 1},
         "unknown keys"),
    ])
    def test_bad_entries(self, tmp_path, entry, message):
        with pytest.raises(AssetError, match=message):
            Catalogue.load(write_catalogue(tmp_path, {"bad": entry}))

    def test_unknown_name(self, tmp_path):
        cat = Catalogue.load(write_catalogue(tmp_path, {}),
                             cache=tmp_path / "c")
        with pytest.raises(AssetNotFound, match="no asset named 'zzz'"):
            cat.fetch("zzz")
        with pytest.raises(AssetNotFound, match="neither an existing file"):
            resolve_asset("zzz", cat)

    def test_existing_path_used_as_is(self, tmp_path):
        target = tmp_path / "vmlinuz"
        target.write_bytes(b"k")
        assert resolve_asset(str(target)) == target

    def test_url_asset(self, server, tmp_path):
        cat = Catalogue.load(write_catalogue(tmp_path, {
            "blob": {"url": f"{server}/file", "sha256": PAYLOAD_SHA},
            "bad": {"url": f"{server}/file", "sha256": "1" * 64},
        }), cache=tmp_path / "c")
        assert cat.status("blob") == "missing"
        path = resolve_asset("blob", cat)
        assert path.read_bytes() == PAYLOAD
        assert path.is_relative_to(tmp_path / "c" / "url")
        assert cat.status("blob") == "ok"
        assert cat.verify("blob") == path
        with pytest.raises(HashMismatch, match="asset bad:.*1111") as err:
            cat.fetch("bad")
        assert err.value.actual == PAYLOAD_SHA

    def test_manual_asset_without_source(self, tmp_path):
        sha = hashlib.sha256(b"firmware").hexdigest()
        cat = Catalogue.load(write_catalogue(tmp_path, {
            "fw": {"path": "fw.bin", "sha256": sha}}), cache=tmp_path / "c")
        with pytest.raises(AssetNotFound, match=f"asset fw \\(sha256 {sha}"
                           r"\) is not at .*fw\.bin and has no source"):
            cat.fetch("fw")
        place = cat.local_path("fw")
        place.parent.mkdir(parents=True)
        place.write_bytes(b"tampered")
        with pytest.raises(HashMismatch, match=f"expected {sha}"):
            cat.fetch("fw")
        place.write_bytes(b"firmware")
        assert cat.fetch("fw") == place


# -- the Debian source (real apt, real archive) ----------------------------

BUSYBOX = {"kind": "busybox", "arch": "amd64", "package": "busybox-static",
           "path": "bin/busybox"}


@pytest.fixture(scope="module")
def apt_cache(tmp_path_factory):
    """A cache shared by the Debian tests, so apt updates once."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def bb_cat(tmp_path, apt_cache) -> Catalogue:
    cat = Catalogue.load(write_catalogue(tmp_path, {"bb": BUSYBOX}),
                         cache=apt_cache, update=False)
    cat.lock(["bb"])
    return cat


def _fetch_in_child(args):
    catalogue, cache = args
    cat = Catalogue.load(catalogue, cache=cache, update=False)
    return str(cat.fetch("bb"))


class TestDebian:

    def test_unlocked_asset(self, tmp_path, apt_cache):
        cat = Catalogue.load(write_catalogue(tmp_path, {"bb": BUSYBOX}),
                             cache=apt_cache, update=False)
        assert cat.status("bb") == "unlocked"
        with pytest.raises(NotLocked, match="avocado-rr assets lock bb"):
            cat.fetch("bb")

    def test_lock_and_fetch(self, bb_cat, tmp_path):
        lock = yaml.safe_load((tmp_path / "assets.lock").read_text())
        entry = lock["assets"]["bb"]
        assert entry["package"] == "busybox-static"
        assert entry["member"] == "bin/busybox"
        path = bb_cat.fetch("bb")
        assert hashlib.sha256(path.read_bytes()).hexdigest() \
            == entry["sha256"]
        assert bb_cat.verify("bb") == path
        assert (bb_cat.package_root("bb") / "bin" / "busybox") == path
        assert bb_cat.status("bb") == "ok"

    def test_corrupt_cache_moved_aside_and_refetched(self, bb_cat):
        path = bb_cat.fetch("bb")
        good = path.read_bytes()
        path.write_bytes(b"not busybox")
        assert bb_cat.status("bb") == "corrupt"
        with pytest.raises(HashMismatch):
            bb_cat.verify("bb")
        assert bb_cat.fetch("bb").read_bytes() == good
        asides = list(path.parent.parent.parent.glob(
            path.parent.parent.name + ".corrupt-*"))
        assert asides, "the corrupt tree was not kept"
        assert (asides[0] / "bin" / "busybox").read_bytes() \
            == b"not busybox"

    def test_lock_mismatch_never_lands(self, bb_cat, tmp_path, apt_cache):
        entry = bb_cat.locked("bb")
        lock_file = tmp_path / "assets.lock"
        doc = yaml.safe_load(lock_file.read_text())
        doc["assets"]["bb"]["sha256"] = "2" * 64
        lock_file.write_text(yaml.safe_dump(doc))
        bad = Catalogue.load(tmp_path / "assets.yaml", cache=apt_cache,
                             update=False)
        with pytest.raises(HashMismatch, match=f"expects {'2' * 64}") as err:
            bad.fetch("bb")
        assert err.value.actual == entry.sha256
        assert not bad.local_path("bb").exists()
        assert "busybox-static" in str(err.value)

    def test_gone_version(self, bb_cat, tmp_path, apt_cache):
        lock_file = tmp_path / "assets.lock"
        doc = yaml.safe_load(lock_file.read_text())
        real_version = doc["assets"]["bb"]["version"]
        doc["assets"]["bb"]["version"] = "0.0.1-1"
        lock_file.write_text(yaml.safe_dump(doc))
        strict = Catalogue.load(tmp_path / "assets.yaml", cache=apt_cache,
                                update=False)
        with pytest.raises(AssetUnavailable) as err:
            strict.fetch("bb")
        text = str(err.value)
        assert "asset bb: locked busybox-static 0.0.1-1" in text
        assert real_version in text
        assert "avocado-rr assets lock bb" in text
        assert err.value.available == real_version

        lenient = Catalogue.load(tmp_path / "assets.yaml", cache=apt_cache,
                                 update=True)
        assert lenient.fetch("bb").is_file()
        doc = yaml.safe_load(lock_file.read_text())
        assert doc["assets"]["bb"]["version"] == real_version

    def test_two_processes_fetch_at_once(self, tmp_path, bb_cat):
        cache = tmp_path / "fresh-cache"
        # share the apt index, not the extracted packages
        (cache / "apt").mkdir(parents=True)
        (cache / "apt" / "amd64").symlink_to(bb_cat.cache / "apt" / "amd64")
        args = (str(tmp_path / "assets.yaml"), str(cache))
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(2) as pool:
            paths = pool.map(_fetch_in_child, [args, args])
        assert paths[0] == paths[1]
        cat = Catalogue.load(tmp_path / "assets.yaml", cache=cache)
        assert cat.verify("bb") == Path(paths[0])
        leftovers = list((cache / "pkgs" / "amd64").glob(".tmp-*"))
        assert leftovers == []

    def test_download_progress(self, tmp_path, bb_cat):
        cache = tmp_path / "fresh-cache"
        (cache / "apt").mkdir(parents=True)
        (cache / "apt" / "amd64").symlink_to(bb_cat.cache / "apt" / "amd64")
        cat = Catalogue.load(tmp_path / "assets.yaml", cache=cache)
        seen = []
        cat.fetch("bb", progress=lambda done, total: seen.append(
            (done, total)))
        size = seen[-1][1]
        assert size > 100_000 and seen[-1] == (size, size)
        assert all(done <= total for done, total in seen)

    def test_cli(self, bb_cat, tmp_path, capsys):
        common = ["--catalogue", str(tmp_path / "assets.yaml"),
                  "--cache-dir", str(bb_cat.cache)]
        assert assetscli.main(common + ["list"]) == 0
        out = capsys.readouterr().out
        assert "busybox-static" in out and " ok" in out
        assert assetscli.main(common + ["verify", "-t", "arch:x86_64"]) == 0
        assert assetscli.main(common + ["fetch", "-t", "kind:kernel"]) == 0
        assert capsys.readouterr().out.count("bb:") == 1
        assert assetscli.main(common + ["verify", "nosuch"]) == 2
        assert "no asset named 'nosuch'" in capsys.readouterr().err


def test_parse_records_and_depends():
    text = ("Package: linux-image-amd64\nVersion: 6.1\nDepends: "
            "linux-image-6.1.0-9-amd64 (= 6.1-1), a | b\nDescription: x\n"
            " more\n\nPackage: other\n")
    recs = debian.parse_records(text)
    assert [r["Package"] for r in recs] == ["linux-image-amd64", "other"]
    assert recs[0]["Description"] == "x\nmore"
    assert debian.depends_names(recs[0]["Depends"]) == [
        "linux-image-6.1.0-9-amd64", "a"]


def test_cache_dir_from_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("AVOCADO_RR_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert assets.cache_dir() == tmp_path / "avocado-rr"
    monkeypatch.setenv("AVOCADO_RR_CACHE_DIR", str(tmp_path / "x"))
    assert assets.cache_dir() == tmp_path / "x"


def test_an_asset_with_its_own_sources_gets_its_own_apt_state(tmp_path):
    """riscv64 comes from Debian 13: a private state with those sources,
    never the system's sources, and never the state of the others."""
    from avocado_rr.assets import Catalogue
    cat = Catalogue.load(cache=tmp_path)
    spec = cat.spec("kernel-riscv64")
    assert spec.sources and all("trixie" in line for line in spec.sources)
    apt = cat._apt(spec)
    assert apt.sources == list(spec.sources)
    assert apt.root.parent != tmp_path / "apt"
    options = " ".join(apt.options())
    assert f"Dir::Etc::SourceList={apt.root / 'sources.list'}" in options
    plain = cat._apt(cat.spec("kernel-x86_64"))
    assert plain.sources is None and plain.root.parent == tmp_path / "apt"
    assert "SourceList" not in " ".join(plain.options())


def test_an_architecture_all_asset_is_selected_by_the_guest_it_serves(
        tmp_path):
    """U-Boot for ppce500 is in an amd64 index (Architecture: all) but
    boots a ppc guest: 'make assets AVOCADO_TAGS=arch:ppc' fetches it."""
    cat = Catalogue.load(cache=tmp_path)
    assert cat.spec("u-boot-ppce500").guests == ("ppc",)
    assert "u-boot-ppce500" in assetscli._select(cat, [], ["arch:ppc"])
    assert "u-boot-ppce500" not in assetscli._select(cat, [],
                                                    ["arch:ppc64"])
    assert "kernel-ppc64el" not in assetscli._select(cat, [], ["arch:ppc"])
