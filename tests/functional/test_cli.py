"""The avocado-rr command: the contract scripts rely on."""

import json
import os
import subprocess
import sys

from conftest import X86_APPEND, X86_PATTERN


def avocado_rr(*args):
    return subprocess.run([sys.executable, "-m", "avocado_rr.cli", *args],
                          capture_output=True, text=True, timeout=300)


def boot_args(kernel):
    return ["--arch", "x86_64", "--machine", "pc", "--kernel", kernel,
            "--append", X86_APPEND, "--pattern", X86_PATTERN,
            "--shift", "7"]


def test_record_then_replay_json(x86_spec, tmp_path):
    rrfile = tmp_path / "boot.bin"
    rec = avocado_rr("record", *boot_args(x86_spec.kernel),
                     "--rrfile", str(rrfile), "--json")
    assert rec.returncode == 0, rec.stderr + rec.stdout
    recorded = json.loads(rec.stdout)
    assert recorded["recorded_icount"] > 0
    for suffix in ("", ".json", ".console"):
        assert os.path.exists(f"{rrfile}{suffix}")

    rep = avocado_rr("replay", "--rrfile", str(rrfile), "--json")
    assert rep.returncode == 0, rep.stderr + rep.stdout
    result = json.loads(rep.stdout)
    assert result["verdict"] == "pass"
    assert result["console_equal"] is True
    assert (result["recorded_icount"] == result["replay_icount"] ==
            recorded["recorded_icount"])
    assert result["log_icount"] == result["final_icount"] == \
        recorded["final_icount"]


def test_check_reports_failure_with_status_1(x86_spec, tmp_path):
    res = avocado_rr("check", *boot_args(x86_spec.kernel)[:-4],
                     "--pattern", "never printed", "--timeout", "4",
                     "--outdir", str(tmp_path), "--json")
    assert res.returncode == 1
    assert json.loads(res.stdout)["verdict"] == "record-failed"


def test_missing_qemu_is_a_clear_error(x86_spec, tmp_path):
    res = avocado_rr("check", *boot_args(x86_spec.kernel),
                     "--qemu-bin", "/nonexistent/qemu-system-x86_64",
                     "--outdir", str(tmp_path))
    assert res.returncode == 2
    assert "/nonexistent/qemu-system-x86_64" in res.stderr


def test_every_error_is_one_json_object_with_json(x86_spec, tmp_path):
    """--json: a usage error, a missing QEMU, a missing asset and a log
    without its sidecar each print one JSON object on stdout, exit 2."""
    cases = {
        "UsageError": ["replay", "--json"],
        "QemuNotFound": ["check", *boot_args(x86_spec.kernel), "--qemu-bin",
                         "/nonexistent/qemu-system-x86_64", "--outdir",
                         str(tmp_path), "--json"],
        "AssetNotFound": ["record", *boot_args("no-such-asset"),
                          "--rrfile", str(tmp_path / "x.bin"), "--json"],
        "FileNotFoundError": ["replay", "--rrfile",
                              str(tmp_path / "none.bin"), "--json"],
    }
    for error, args in cases.items():
        res = avocado_rr(*args)
        assert res.returncode == 2, (error, res.stdout, res.stderr)
        data = json.loads(res.stdout)
        assert data == {"verdict": "error", "error": error,
                        "message": data["message"], "exit_status": 2}
        assert data["message"], error
