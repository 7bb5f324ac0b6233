"""The C scanner and the pure-Python decoder agree, on the real fixtures
and on the synthetic logs of test_replaylog_synthetic.py.

If the extension was not built (setup.py build_ext), it is compiled here
from avocado_rr/replaylog/_scan.c, so the C code is always tested.
"""

import importlib.machinery
import importlib.util
import io
import os
import subprocess
import sysconfig

import pytest

from avocado_rr import replaylog as R
from avocado_rr.replaylog import backend

from test_replaylog import SIDECAR, _unxz
import test_replaylog_synthetic as synthetic
from test_replaylog_synthetic import ERROR_CASES, IDS, old_log

SRC = os.path.join(os.path.dirname(R.__file__), "_scan.c")


@pytest.fixture(scope="module")
def scan(tmp_path_factory):
    if backend._scan is not None:
        return backend._scan
    out = tmp_path_factory.mktemp("scan") / (
        "_scan" + sysconfig.get_config_var("EXT_SUFFIX"))
    subprocess.run([sysconfig.get_config_var("CC").split()[0], "-O2",
                    "-shared", "-fPIC",
                    "-I" + sysconfig.get_paths()["include"], SRC, "-o",
                    str(out)], check=True)
    loader = importlib.machinery.ExtensionFileLoader("_scan", str(out))
    spec = importlib.util.spec_from_loader("_scan", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


@pytest.fixture
def with_c(scan, monkeypatch):
    monkeypatch.setattr(backend, "_scan", scan)


@pytest.fixture(scope="module")
def real_logs(tmp_path_factory):
    d = tmp_path_factory.mktemp("rr")
    return [_unxz("bios-disk-net.rr.xz", d), _unxz("killed.rr.xz", d),
            _unxz("aarch64-quit-tail.rr.xz", d)]


@pytest.fixture(scope="module")
def newer_logs(tmp_path_factory):
    d = tmp_path_factory.mktemp("rr-newer")
    return {tag: _unxz(f"bios-disk-net-{tag}.rr.xz", d)
            for tag in ("10.0", "11.1")}


def _outcome(fn, *args, **kw):
    """Result, or (error class, message, offset, index, partial)."""
    try:
        return fn(*args, **kw)
    except R.ReplayLogError as exc:
        return (type(exc), str(exc), exc.offset, exc.event_index,
                exc.partial)


def _text(path, accel):
    out = io.BytesIO()
    err = _outcome(backend.write_text, str(path), out, accel=accel)
    return out.getvalue(), err if isinstance(err, tuple) else None


def _both_agree(path):
    fast = _outcome(R.summarize, path, accel=True)
    slow = _outcome(R.summarize, path, accel=False)
    assert fast == slow
    text_fast, err_fast = _text(path, True)
    text_slow, err_slow = _text(path, False)
    assert text_fast == text_slow
    assert err_fast == err_slow
    return fast, text_fast


def test_real_logs_agree(with_c, real_logs):
    full, killed, tail = real_logs
    summary, text = _both_agree(full)
    assert summary.icount == SIDECAR["query_replay_icount"]
    assert text.count(b"\n") == SIDECAR["replay_dump"]["events"]
    outcome, _ = _both_agree(killed)
    assert outcome[0] is R.UnfinishedLog
    summary, _ = _both_agree(tail)
    assert summary.shutdown_icount < summary.icount


def test_real_log_navigation_agrees(with_c, real_logs):
    full = real_logs[0]
    total = SIDECAR["query_replay_icount"]
    for target in (1, total // 7, total // 2, total):
        fast = R.find_icount(full, target, accel=True)
        assert fast == R.find_icount(full, target, accel=False)
        assert (R.events_around(full, fast, 4, accel=True) ==
                R.events_around(full, fast, 4, accel=False))


@pytest.mark.parametrize("version", sorted(IDS))
def test_old_formats_agree(with_c, version, tmp_path):
    log = tmp_path / "old.rr"
    log.write_bytes(old_log(version))
    summary, text = _both_agree(log)
    assert summary.clean_end and summary.version == version


def test_72_synthetic_kinds_agree(with_c, tmp_path):
    log = tmp_path / "v72.rr"
    synthetic.test_72_kinds_absent_from_the_real_fixture(tmp_path)
    summary, text = _both_agree(log)
    assert b"EVENT_ASYNC_INPUT_SYNC(6)\n" in text
    assert b"EVENT_RANDOM(27) 0 bytes (getrandom failed)\n" in text
    assert summary.events == 13


@pytest.mark.parametrize("case", sorted(ERROR_CASES))
def test_error_cases_agree(with_c, case, tmp_path):
    log = tmp_path / "bad.rr"
    log.write_bytes(ERROR_CASES[case][0])
    outcome, _ = _both_agree(log)
    assert outcome[0] is ERROR_CASES[case][1]


def test_chunk_boundaries(with_c, real_logs, monkeypatch):
    """Events split across read chunks decode the same way."""
    full = real_logs[0]
    expected = R.summarize(full, accel=False)
    text, _ = _text(full, False)
    for chunk in (7, 64, 4093):
        monkeypatch.setattr(backend, "CHUNK", chunk)
        monkeypatch.setattr("avocado_rr.replaylog.reader.CHUNK", chunk)
        assert R.summarize(full, accel=True) == expected
        assert _text(full, True)[0] == text


def test_newer_qemu_logs_agree(with_c, newer_logs):
    """QEMU 10.0 (0xe0200c) and 11.1 (0xe0200e, Linux key codes) logs."""
    for tag, log in newer_logs.items():
        summary, text = _both_agree(log)
        assert summary.clean_end and summary.counts["EVENT_ASYNC_INPUT"] == 7
        assert text.count(b"\n") == summary.events
    _, text = _both_agree(newer_logs["11.1"])
    assert b":EVENT_ASYNC_INPUT(5) key linux:30 down:1\n" in text
    full = newer_logs["11.1"]
    total = R.summarize(full, accel=False).icount
    for target in (1, total // 3, total):
        fast = R.find_icount(full, target, accel=True)
        assert fast == R.find_icount(full, target, accel=False)


def test_newer_synthetic_payloads_agree(with_c, tmp_path):
    """The C scanner sizes 0xe0200d AUDIO_IN and 0xe0200e keys like the
    Python decoder."""
    log = tmp_path / "audio2.rr"
    for version in (0xe0200d, 0xe0200e):
        synthetic.test_audio_in_without_wpos(version, tmp_path)
        log.write_bytes(synthetic.log_v(
            version, synthetic.u8(0) + synthetic.u32(3),
            synthetic.AUDIO_IN_NSAMPLES, synthetic.u8(14),
            synthetic.u8(39)))
        summary, _ = _both_agree(log)
        assert summary.clean_end and summary.events == 4
    synthetic.test_0xe0200e_linux_keys(tmp_path)
    summary, text = _both_agree(tmp_path / "e.rr")
    assert summary.clean_end and b"key linux:767 down:0" in text
