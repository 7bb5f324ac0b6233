"""Debian's QEMU builds side by side, on real QEMU: 11.1 (Debian 13's
libraries, on this Debian 12) records and replays, and a log recorded by
one QEMU is not silently replayed by another."""

import json
import subprocess
import sys

import pytest

from avocado_rr import qemu_builds, replaylog
from avocado_rr.engine import RecordReplay
from avocado_rr.pair import OtherQemu, Recording, check_same_qemu
from avocado_rr.qemu_binary import find_qemu
from conftest import X86_APPEND, X86_PATTERN

NEWEST = "11.1"


def cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "avocado_rr.cli", *args],
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def qemu_newest():
    """The newest build, fetched (from Debian, once) and verified."""
    builds = qemu_builds.default_builds()
    builds.fetch(NEWEST)
    builds.verify(NEWEST)
    return find_qemu("x86_64", qemu_version=NEWEST)


def test_the_newest_build_runs_from_its_own_tree(qemu_newest):
    tree = str(qemu_builds.default_builds().tree(
        qemu_builds.default_builds().locked(NEWEST)))
    assert qemu_newest.path.startswith(tree)
    assert qemu_newest.version[:2] == (11, 1)
    listed = cli("qemu", "list", NEWEST)
    assert listed.returncode == 0, listed.stderr
    assert " ok " in listed.stdout
    path = cli("qemu", "path", NEWEST)
    assert path.stdout.strip() == f"{tree}/bin"


def test_the_newest_qemu_records_and_replays(qemu_newest, x86_spec,
                                             tmp_path):
    engine = RecordReplay(qemu_newest, tmp_path / "pair")
    verdict = engine.check(x86_spec, X86_PATTERN, timeout=120)
    assert verdict.verdict == "pass", verdict.summary()
    assert "11.1" in verdict.qemu_version
    log = replaylog.summarize(str(tmp_path / "pair" / "replay.bin"))
    assert log.version == 0xe0200e
    assert log.icount == verdict.recorded_icount
    assert log.clean_end


def test_a_7_2_log_is_refused_by_11_1_naming_both(qemu_x86_64, qemu_newest,
                                                  x86_spec, tmp_path):
    rrfile = str(tmp_path / "old.bin")
    recorded = cli("record", "--arch", "x86_64", "--machine", "pc",
                   "--kernel", x86_spec.kernel, "--append", X86_APPEND,
                   "--pattern", X86_PATTERN, "--rrfile", rrfile)
    assert recorded.returncode == 0, recorded.stderr
    with open(rrfile + ".json", encoding="utf-8") as sidecar:
        assert json.load(sidecar)["qemu_version"] == qemu_x86_64.version_line

    with pytest.raises(OtherQemu, match="11.1.*--allow-other-qemu"):
        check_same_qemu(Recording.load(rrfile), qemu_newest)
    check_same_qemu(Recording.load(rrfile), qemu_x86_64)

    refused = cli("replay", "--rrfile", rrfile, "--qemu-version", NEWEST)
    assert refused.returncode == 2
    assert qemu_x86_64.version_line in refused.stderr
    assert qemu_newest.version_line in refused.stderr
    # scripts get the refusal as one JSON object on stdout
    refused = cli("replay", "--rrfile", rrfile, "--qemu-version", NEWEST,
                  "--json")
    assert refused.returncode == 2
    error = json.loads(refused.stdout)
    assert error["verdict"] == "error" and error["error"] == "OtherQemu"
    assert error["exit_status"] == 2
    assert qemu_x86_64.version_line in error["message"]
    assert qemu_newest.version_line in error["message"]

    # a hang would raise TimeoutExpired: 11.1 must end on its own
    tried = cli("replay", "--rrfile", rrfile, "--qemu-version", NEWEST,
                "--allow-other-qemu", timeout=120)
    assert tried.returncode != 0
    assert f"recorded by {qemu_x86_64.version_line}, replayed by " \
           f"{qemu_newest.version_line}" in tried.stderr
    assert "invalid input log file version" in tried.stderr
