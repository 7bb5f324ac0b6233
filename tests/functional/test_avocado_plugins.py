"""The Avocado plugins as a user meets them: avocado plugins, replay-dump,
replay-assets, and avocado run of a real record/replay case with the
--replay-* options, a config file and a mux file."""

import json
import lzma
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from conftest import qemu_pids_with

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
ENV = dict(os.environ, PYTHONPATH=str(ROOT))
FIXTURE = ROOT / "tests" / "unit" / "fixtures" / "replaylog" / \
    "bios-disk-net.rr.xz"
#: the quickest real case (about 12 s for record + replay)
CASE = "tests/avocado/replay_kernel.py:X86_64Microvm"


def run(*argv, timeout=600):
    return subprocess.run([str(a) for a in argv], capture_output=True,
                          text=True, cwd=ROOT, env=ENV, timeout=timeout)


def avocado(*args, **kwargs):
    return run(VENV_BIN / "avocado", *args, **kwargs)


def avocado_rr(*args):
    return run(VENV_BIN / "avocado-rr", *args)


def fixture_log(tmp_path):
    path = tmp_path / "bios-disk-net.rr"
    path.write_bytes(lzma.decompress(FIXTURE.read_bytes()))
    return path


def test_avocado_plugins_lists_ours():
    res = avocado("plugins")
    assert res.returncode == 0, res.stderr
    names = {line.split()[0] for line in res.stdout.splitlines()
             if line.strip() and not line.endswith(":")}
    assert {"replay-dump", "replay-assets", "replay_run", "replay_settings",
            "replay_env", "replay_summary"} <= names


def test_replay_dump_is_avocado_rr_dump(tmp_path):
    log = fixture_log(tmp_path)
    for args in (["--summary", "--format", "json"], ["--find-icount", "1000"],
                 ["--around-event", "50", "--context", "3"]):
        ours = avocado("replay-dump", log, *args)
        theirs = avocado_rr("dump", log, *args)
        assert ours.returncode == theirs.returncode == 0, ours.stderr
        assert ours.stdout == theirs.stdout
    summary = json.loads(avocado("replay-dump", log, "--summary",
                                 "--format", "json").stdout)
    assert summary["events"] > 1000


def test_replay_dump_exit_codes_match(tmp_path):
    log = fixture_log(tmp_path)
    cut = tmp_path / "cut.rr"           # a real log, cut in the middle
    cut.write_bytes(log.read_bytes()[:len(log.read_bytes()) // 2])
    for path in (cut, tmp_path / "missing.rr"):
        ours = avocado("replay-dump", path, "--summary")
        theirs = avocado_rr("dump", path, "--summary")
        assert ours.returncode == theirs.returncode != 0
        assert ours.stderr.splitlines()[-1] == theirs.stderr.splitlines()[-1]
    assert avocado("replay-dump", cut).returncode == 14      # truncated


def test_replay_assets_uses_the_replay_cache_dir_setting(tmp_path):
    ours = avocado("replay-assets", "list", "-t", "arch:x86_64")
    theirs = avocado_rr("assets", "list", "-t", "arch:x86_64")
    assert ours.returncode == theirs.returncode == 0, ours.stderr
    assert ours.stdout == theirs.stdout
    assert "kernel-x86_64" in ours.stdout
    empty = tmp_path / "empty-cache"
    config = tmp_path / "rr.conf"
    config.write_text(f"[replay]\ncache_dir = {empty}\n")
    listed = avocado("--config", config, "replay-assets", "list",
                     "kernel-x86_64")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[1].split()[-1] == "missing"
    verify = avocado("--config", config, "replay-assets", "verify",
                     "kernel-x86_64")
    assert verify.returncode == 1
    assert "not cached" in verify.stdout
    bad = avocado("replay-assets", "list", "no-such-asset")
    assert bad.returncode == 2 and "no-such-asset" in bad.stderr


def _job(results):
    job = results / "latest"
    return job, json.loads((job / "results.json").read_text())


def test_run_with_replay_options_and_summary(tmp_path):
    results = tmp_path / "results"
    config = tmp_path / "rr.conf"
    config.write_text("[replay]\nstall_timeout = 7.5\n")
    res = avocado("--config", config, "run", "--disable-sysinfo",
                  "--job-results-dir", results, "--replay-icount-shift", "6",
                  "--replay-keep-artifacts", CASE)
    assert res.returncode == 0, res.stdout + res.stderr
    assert qemu_pids_with(str(tmp_path)) == []
    job, data = _job(results)
    test = data["tests"][0]
    assert test["status"] == "PASS"
    datadir = Path(test["logdir"]) / "data"
    # the settings reached the test: the shift, the kept log
    assert "shift=6,rr=record" in (datadir / "record-cmdline.txt").read_text()
    assert (datadir / "replay.bin").exists()
    assert "AVOCADO_RR_STALL_TIMEOUT=7.5" in (job / "job.log").read_text()
    # and the summary: JSON, SVG and the console table
    summary = json.loads((job / "replay-summary.json").read_text())
    row = summary["tests"][0]
    verdict = json.loads(test["whiteboard"])
    assert row["verdict"] == "pass" == verdict["verdict"]
    assert row["icount"] == verdict["recorded_icount"] > 0
    assert row["events"] == verdict["log_events"] > 0
    assert row["log_size"] == (datadir / "replay.bin").stat().st_size
    assert (row["arch"], row["machine"]) == ("x86_64", "microvm")
    svg = ET.parse(job / "replay-summary.svg").getroot()
    assert svg.tag.endswith("svg")
    lines = res.stdout.splitlines()
    header = lines.index("REPLAY SUMMARY:")
    assert lines[header + 1].split()[:3] == ["TEST", "ARCH", "MACHINE"]
    assert "X86_64Microvm" in lines[header + 2]
    assert str(verdict["recorded_icount"]) in lines[header + 2]


def test_run_icount_sweep_variants(tmp_path):
    results = tmp_path / "results"
    res = avocado("run", "--disable-sysinfo", "--job-results-dir", results,
                  "--max-parallel-tasks", "1", "-m",
                  "configs/icount-sweep.yaml", "--mux-filter-only",
                  "/run/icount_shift/shift-3", "/run/icount_shift/shift-8",
                  "--", CASE)
    assert res.returncode == 0, res.stdout + res.stderr
    assert qemu_pids_with(str(tmp_path)) == []
    job, data = _job(results)
    shifts = {}
    for test in data["tests"]:
        assert test["status"] == "PASS"
        variant = test["id"].split(";")[1]
        assert variant.startswith("run-icount_shift-shift-")
        cmdline = (Path(test["logdir"]) / "data" /
                   "record-cmdline.txt").read_text()
        shifts[variant.split("-")[3]] = cmdline.split("shift=")[1][0]
    assert shifts == {"3": "3", "8": "8"}
    summary = json.loads((job / "replay-summary.json").read_text())
    assert sorted(";" in row["test"] for row in summary["tests"]) == \
        [True, True]
