"""Faults a CI machine really meets, on real QEMU and real kernels.

Each test asserts the verdict class and its message, that the artifacts
are kept, and (through conftest's autouse ``no_qemu_left``) that no QEMU
outlives it.  Avocado's own test timeout is covered by
``test_avocado.py::test_timeout_leaves_no_qemu``.
"""

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from avocado_rr import assets
from avocado_rr.engine import RecordReplay
from conftest import qemu_pids_with

ROOT = Path(__file__).resolve().parents[2]
AVOCADO_RR = [sys.executable, "-m", "avocado_rr.cli"]
AVOCADO = [sys.executable, "-m", "avocado"]
#: the last console line of an initrd-less x86 boot: late, so that the log
#: is large (about 2 MB at shift 7) when it comes
ROOT_MOUNT = re.compile(r"VFS: Cannot open root device")
AS_ROOT = os.geteuid() == 0


def _wrapper(tmp_path: Path, qemu_path: str, fsize: int,
             ignore_sigxfsz: bool) -> str:
    """A QEMU that runs under RLIMIT_FSIZE (what a quota or ``ulimit -f``
    does to it); with SIGXFSZ ignored, its writes past the limit fail with
    EFBIG instead of killing it."""
    script = tmp_path / "qemu-fsize"
    trap = "trap '' XFSZ\n" if ignore_sigxfsz else ""
    script.write_text(f"#!/bin/sh\n{trap}exec prlimit --fsize={fsize} -- "
                      f"{qemu_path} \"$@\"\n")
    script.chmod(0o755)
    return str(script)


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MB tmpfs with 192 KiB left free, mounted for the test."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs",
                    str(mnt)], check=True)
    try:
        free = shutil.disk_usage(mnt).free
        with open(mnt / "ballast", "wb") as out:
            out.write(b"\0" * (free - (192 << 10)))
        yield mnt
    finally:
        # what the test found is already asserted; free the mount
        subprocess.run(["umount", "-l", str(mnt)], check=False)


FULL_DISK_CASES = ["fsize-efbig", "fsize-sigxfsz"] + (
    ["tmpfs-full"] if AS_ROOT else [])


@pytest.mark.parametrize("case", FULL_DISK_CASES)
def test_disk_full_while_recording_is_record_failed(case, qemu_x86_64,
                                                    x86_spec, tmp_path,
                                                    request):
    """The log cannot be written completely: a clear record-failed naming
    the log and the lack of space, and no replay of the half log."""
    qemu = qemu_x86_64
    if case == "tmpfs-full":
        out = request.getfixturevalue("small_disk") / "pair"
    else:
        out = tmp_path / "pair"
        qemu = dataclasses.replace(qemu, path=_wrapper(
            tmp_path, qemu.path, 256 << 10, case == "fsize-efbig"))
    # no panic=-1: the guest stays up after the root-mount panic
    spec = dataclasses.replace(x86_spec, append="console=ttyS0 printk.time=0")
    engine = RecordReplay(qemu, out)
    verdict = engine.check(spec, ROOT_MOUNT, timeout=120)
    rrfile = str(out / "replay.bin")
    print(f"{case}: {verdict.verdict}: {verdict.reason}")
    assert verdict.verdict == "record-failed", verdict.summary()
    assert rrfile in verdict.reason
    if case == "tmpfs-full":
        assert "no space left on the file system of" in verdict.reason
    elif case == "fsize-efbig":
        # the pattern came: QEMU recorded on after its log stopped growing
        assert "'replay write error'" in verdict.reason
        assert "was not replayed" in verdict.reason
    else:
        assert "killed by SIGXFSZ" in verdict.reason
        assert "file size limit" in verdict.reason
    # never replayed, nor replayable later from the files
    assert not (out / "replay-cmdline.txt").exists()
    assert not (out / "replay.bin.json").exists()
    # what was recorded is kept
    assert os.path.getsize(rrfile) > 0
    assert (out / "record-cmdline.txt").exists()


def test_a_runaway_recording_ends_before_its_log_is_read(qemu_x86_64,
                                                         x86_spec, tmp_path):
    """A log past its size limit is a runaway: the recording ends first,
    then the verdict describes the log as it stays (a runaway's log grows
    faster than it can be read, so the other order never ends)."""
    from avocado_rr import replaylog
    from avocado_rr.pair import RecordFailed
    out = tmp_path / "pair"
    engine = RecordReplay(qemu_x86_64, out)
    with pytest.raises(RecordFailed) as failed:
        engine.record(x86_spec, "no such line", timeout=120,
                      max_log_bytes=100 << 10)
    reason = str(failed.value)
    assert "runaway recording: the log grew past" in reason, reason
    described = re.search(r"kept: (\d+) events up to icount (\d+)", reason)
    assert described, reason
    log = replaylog.summarize(out / "replay.bin")
    # what the verdict says is the whole log, not a prefix of a log that
    # was still being written
    assert (int(described[1]), int(described[2])) == (log.events,
                                                      log.icount)


def _dump(*args):
    return subprocess.run(AVOCADO_RR + ["dump", *args], capture_output=True,
                          text=True, cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))


def test_sigkilled_recorder_keeps_a_readable_partial_log(qemu_x86_64,
                                                        x86_spec, tmp_path):
    engine = RecordReplay(qemu_x86_64, tmp_path / "pair")
    rrfile = tmp_path / "pair" / "replay.bin"
    result = {}
    thread = threading.Thread(target=lambda: result.update(
        verdict=engine.check(x86_spec, "this line is never printed",
                             failure_patterns=[], timeout=120)))
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not (engine.active is not None and rrfile.exists() and
                   rrfile.stat().st_size > 256 << 10):
            assert time.monotonic() < deadline, "the recording never grew"
            time.sleep(0.05)
        os.kill(engine.active.proc.pid, 9)
    finally:
        thread.join(150)
    verdict = result["verdict"]
    print(f"{verdict.verdict}: {verdict.reason}")
    assert verdict.verdict == "record-failed", verdict.summary()
    assert "killed by SIGKILL while recording" in verdict.reason
    assert f"partial log {rrfile} kept" in verdict.reason
    assert "events up to icount" in verdict.reason
    assert not (tmp_path / "pair" / "replay-cmdline.txt").exists()
    # the header still says version 0; the reader decodes every complete
    # event (as QEMU 7.2's format, the one this QEMU writes) and says so
    with open(rrfile, "rb") as log:
        assert log.read(4) == b"\0\0\0\0"
    res = _dump("--summary", "--format", "json", str(rrfile))
    assert res.returncode == 13, res.stderr          # unfinished log
    summary = json.loads(res.stdout)
    assert summary["header_version"] == 0
    assert summary["error_class"] == "UnfinishedLog"
    assert summary["events"] > 1000
    assert not summary["clean_end"]
    # all that is left undecoded is the one event cut by the kill
    assert 0 <= summary["file_size"] - summary["bytes_decoded"] < 64
    text = _dump(str(rrfile))
    assert text.returncode == 13
    lines = [line for line in text.stdout.splitlines() if line[:1].isdigit()]
    assert len(lines) == summary["events"]
    assert lines[-1].startswith(f"{summary['events']}:")
    assert "header version is 0" in text.stderr
    assert qemu_pids_with(str(tmp_path)) == []


# -- assets: each fault its own ERROR before any QEMU starts ---------------

KERNEL = "kernel-x86_64"
CASE = "tests/avocado/replay_kernel.py:X86_64Pc"


def _avocado_run(results: Path, *args, env=None, prefix=(), timeout=900):
    env = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    return subprocess.run(list(prefix) + AVOCADO + [
        "run", "--disable-sysinfo", "--job-results-dir", str(results),
        *args], capture_output=True, text=True, cwd=ROOT, env=env,
        timeout=timeout)


def _only_test(results: Path) -> dict:
    tests = json.load(open(results / "latest" / "results.json"))["tests"]
    assert len(tests) == 1, tests
    return tests[0]


def _link_or_copy(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dest)
    except OSError:
        shutil.copy2(src, dest)


def _lock_entry():
    return assets.default_catalogue().locked(KERNEL)


def _cache_unreadable(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir(mode=0)
    # root reads anything: drop the capabilities that let it (the job and
    # its tests then meet the permissions a CI user meets)
    prefix = (["setpriv", "--bounding-set", "-dac_override,-dac_read_search"]
              if AS_ROOT else [])
    return cache, {}, prefix, ["Permission denied",
                               f"the asset cache {cache} is unusable",
                               "chmod -R u+rwX",
                               f"`avocado-rr assets fetch {KERNEL}`"]


FAKE = "bad" + "0" * 61


def _lock_mismatch(tmp_path):
    """The lock names another sha256 for the kernel than its package has
    (a hand-edited or stale lock); the package itself is in the cache."""
    entry = _lock_entry()
    real = assets.default_catalogue().cache
    cache = tmp_path / "cache"
    deb = assets.default_catalogue()._deb(entry)
    _link_or_copy(deb, cache / deb.relative_to(real))
    configs = tmp_path / "configs"
    configs.mkdir()
    shutil.copy(ROOT / "configs" / "assets.yaml", configs / "assets.yaml")
    lock = (ROOT / "configs" / "assets.lock").read_text()
    assert lock.count(entry.sha256) == 1
    (configs / "assets.lock").write_text(lock.replace(entry.sha256, FAKE))
    env = {"AVOCADO_RR_ASSETS_CATALOGUE": str(configs / "assets.yaml")}
    return cache, env, (), [f"asset {KERNEL}", f"has sha256 {entry.sha256}",
                            f"the lock expects {FAKE}",
                            f"`avocado-rr assets lock {KERNEL}`"]


def _corrupt_offline(tmp_path):
    """The cached kernel itself changed (a bad disk, a bad cache restore),
    found by an offline run."""
    catalogue = assets.default_catalogue()
    real = catalogue.local_path(KERNEL)
    cache = tmp_path / "cache"
    copy = cache / real.relative_to(catalogue.cache)
    copy.parent.mkdir(parents=True)
    data = bytearray(real.read_bytes())
    data[len(data) // 2] ^= 0xff
    copy.write_bytes(bytes(data))
    return cache, {}, (), ["--replay-offline", f"asset {KERNEL}",
                           f"the lock expects {_lock_entry().sha256}",
                           f"`avocado-rr assets fetch {KERNEL}` replaces",
                           "offline run"]


def _missing_offline(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    return cache, {}, (), ["--replay-offline", f"asset {KERNEL} is not cached",
                           f"fetch it with `avocado-rr assets fetch {KERNEL}`",
                           "offline run"]


@pytest.mark.parametrize("fault", [_cache_unreadable, _lock_mismatch,
                                   _corrupt_offline, _missing_offline],
                         ids=lambda f: f.__name__.strip("_"))
def test_asset_fault_is_an_error_before_qemu(fault, tmp_path):
    cache, env, prefix, expected = fault(tmp_path)
    args = []
    if expected[0] == "--replay-offline":
        args, expected = ["--replay-offline"], expected[1:]
    results = tmp_path / "results"
    try:
        res = _avocado_run(results, *args, CASE, prefix=prefix,
                           env={"AVOCADO_RR_CACHE_DIR": str(cache), **env})
    finally:
        cache.chmod(0o755)
    assert res.returncode == 1, res.stdout + res.stderr
    test = _only_test(results)
    print(test["status"], test["fail_reason"])
    assert test["status"] == "ERROR"
    for text in expected:
        assert text in test["fail_reason"], (text, test["fail_reason"])
    # no QEMU started: the recording left nothing
    data = Path(test["logdir"]) / "data"
    assert not (data / "record-cmdline.txt").exists()
    assert "record: " not in (Path(test["logdir"]) / "debug.log").read_text()


def test_two_jobs_share_a_fresh_asset_cache(tmp_path):
    """Two 'avocado run' fetching the same kernel into one empty cache at
    once: both pass, and the cache holds one good copy."""
    cache = tmp_path / "cache"
    env = dict(os.environ, PYTHONPATH=str(ROOT),
               AVOCADO_RR_CACHE_DIR=str(cache))
    jobs = [subprocess.Popen(
        AVOCADO + ["run", "--disable-sysinfo", "--job-results-dir",
                   str(tmp_path / f"results{n}"), CASE],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True) for n in (1, 2)]
    outputs = [job.communicate(timeout=1800)[0] for job in jobs]
    for n, (job, output) in enumerate(zip(jobs, outputs), 1):
        assert job.returncode == 0, output
        assert _only_test(tmp_path / f"results{n}")["status"] == "PASS"
    catalogue = assets.Catalogue.load(cache=cache)
    assert catalogue.status(KERNEL) == "ok"
    entry = catalogue.locked(KERNEL)
    trees = sorted(p.name for p in (cache / "pkgs" / entry.arch).iterdir())
    assert trees == [entry.tree_name], trees    # nothing moved aside
    debs = sorted(p.name for p in (cache / "debs" / entry.arch).iterdir())
    assert debs == [catalogue._deb(entry).name], debs   # no temp leftovers
