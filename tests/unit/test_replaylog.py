"""Replay-log reader on real logs recorded by QEMU 7.2 on this machine.

Fixtures (tests/unit/fixtures/replaylog/, made by make-fixtures.py):
``bios-disk-net.rr.xz`` is a BIOS boot with a blkreplay disk, a
filter-replay NIC (iPXE DHCP) and a serial chardev the host sent a line
to, stopped with QMP stop/query-replay/quit; ``bios-disk-net.json`` holds
the query-replay icount and the figures of QEMU's replay-dump.py for it.
``killed.rr.xz`` is the same boot killed with SIGKILL (header version 0).
``aarch64-quit-tail.rr.xz`` is an arm64 kernel boot stopped the same way
whose log has QEMU 7.2's quit tail: instructions logged after the quit.
"""

import json
import lzma
import os
import shutil

import pytest

from avocado_rr import replaylog as R
from avocado_rr.replaylog import dumpcli

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "replaylog")
with open(os.path.join(FIXTURES, "bios-disk-net.json"),
          encoding="utf-8") as _f:
    SIDECAR = json.load(_f)


def _unxz(name: str, dest_dir) -> str:
    dest = os.path.join(dest_dir, name[:-3])
    with lzma.open(os.path.join(FIXTURES, name)) as fin, \
            open(dest, "wb") as fout:
        shutil.copyfileobj(fin, fout)
    return dest


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    d = tmp_path_factory.mktemp("rr")
    return {"full": _unxz("bios-disk-net.rr.xz", d),
            "killed": _unxz("killed.rr.xz", d),
            "tail": _unxz("aarch64-quit-tail.rr.xz", d)}


@pytest.fixture(scope="module")
def events(logs):
    return list(R.iter_events(logs["full"]))


def test_totals_match_query_replay_and_replay_dump(logs):
    s = R.summarize(logs["full"])
    assert s.icount == SIDECAR["query_replay_icount"]
    assert s.icount == SIDECAR["replay_dump"]["icount"]
    assert s.events == SIDECAR["replay_dump"]["events"]
    assert s.version == 0xe0200c and s.header_version == 0xe0200c
    assert s.format == "0xe0200c/7.2+"
    assert s.clean_end is True
    assert s.shutdown_cause == "host-qmp-quit"
    assert s.shutdown_causes == ["host-qmp-quit", "host-signal"]
    assert s.shutdown_icount == s.icount
    assert s.bytes_decoded == s.file_size == SIDECAR["log_size"]
    assert sum(s.counts.values()) == s.events
    assert s.counts["EVENT_END"] == 1


def test_every_event_kind_of_the_boot(logs, events):
    by_name = {}
    for ev in events:
        by_name.setdefault(ev.name, []).append(ev)
    # numbering, running icount and offsets are consistent
    assert [e.index for e in events] == list(range(1, len(events) + 1))
    assert events[0].offset == 12
    for a, b in zip(events, events[1:]):
        assert b.offset == a.offset + a.size
        step = b.fields["count"] if b.group == "instruction" else 0
        assert b.icount == a.icount + step
    assert events[-1].offset + events[-1].size == os.path.getsize(
        logs["full"])
    # serial: the boot sector's line, written one byte at a time
    writes = by_name["EVENT_CHAR_WRITE"]
    assert len(writes) == len(SIDECAR["console"])
    assert all(w.fields == {"res": 1, "offset": 1} for w in writes)
    # the line the host sent to the console, one byte per async event
    reads = by_name["EVENT_ASYNC_CHAR_READ"]
    assert b"".join(r.fields["data"] for r in reads) == \
        SIDECAR["sent_to_console"].encode()
    assert {r.fields["char"] for r in reads} == {0}
    # blkreplay: SeaBIOS reads the boot sector, request id 0
    assert [b.fields["id"] for b in by_name["EVENT_ASYNC_BLOCK"]] == [0]
    # filter-replay: DHCP offers from slirp (IPv4, UDP 67 -> 68)
    nets = by_name["EVENT_ASYNC_NET"]
    dhcp = [n for n in nets if n.fields["data"][12:14] == b"\x08\x00"]
    assert dhcp and all(n.fields["data"][34:38] == b"\x00\x43\x00\x44"
                        for n in dhcp)
    assert all(n.fields["size"] == len(n.fields["data"]) and
               n.fields["filter"] == 0 and n.fields["flags"] == 0
               for n in nets)
    # clocks, checkpoints, interrupts, exceptions
    vclock = [e.fields["value"] for e in by_name["EVENT_CLOCK_VIRTUAL_RT"]]
    assert vclock == sorted(vclock) and vclock[0] > 0
    assert by_name["EVENT_CLOCK_HOST"][0].fields["value"] > 10 ** 18
    assert [e.index for e in by_name["EVENT_CP_INIT"]] == [2]
    assert by_name["EVENT_CP_CLOCK_WARP_ACCOUNT"][0].fields == \
        {"checkpoint": "CLOCK_WARP_ACCOUNT"}
    assert by_name["EVENT_INTERRUPT"] and by_name["EVENT_EXCEPTION"]
    # the end written by QMP quit, then replay_finish()
    assert [e.name for e in events[-2:]] == ["EVENT_SHUTDOWN_HOST_SIGNAL",
                                             "EVENT_END"]
    assert events[-2].fields == {"cause": "host-signal"}
    assert by_name["EVENT_SHUTDOWN_HOST_QMP_QUIT"][0].fields == \
        {"cause": "host-qmp-quit"}


def test_text_lines(events):
    from avocado_rr.replaylog.render import text_line
    lines = {e.name: text_line(e) for e in events}
    insn = [e for e in events if e.group == "instruction"][-1]
    assert text_line(insn) == (f"{insn.index}:EVENT_INSTRUCTION(0) "
                               f"+ {insn.fields['count']} -> {insn.icount}")
    assert lines["EVENT_END"] == f"{len(events)}:EVENT_END(39)"
    assert lines["EVENT_CHAR_WRITE"].endswith(":EVENT_CHAR_WRITE(22) 1 -> 1")
    assert "EVENT_ASYNC_NET(9) net:0 flags:0 bytes:" in \
        lines["EVENT_ASYNC_NET"]
    assert lines["EVENT_ASYNC_CHAR_READ"].endswith(
        "EVENT_ASYNC_CHAR_READ(7) device:0 chars:b'\\n'")


def test_killed_recording_is_unfinished(logs):
    with pytest.raises(R.UnfinishedLog) as info:
        R.summarize(logs["killed"])
    exc = info.value
    part = exc.partial
    assert part.header_version == 0 and part.version == 0xe0200c
    assert part.events > 1000 and part.icount > 0
    assert exc.event_index == part.events + 1
    assert exc.offset == part.bytes_decoded
    assert part.clean_end is False
    assert f"offset {exc.offset}" in str(exc)
    # the same events as iter_events yields before raising
    seen = []
    with pytest.raises(R.UnfinishedLog):
        for ev in R.iter_events(logs["killed"]):
            seen.append(ev)
    assert len(seen) == part.events and seen[-1].icount == part.icount


def test_navigation(logs, events):
    target = SIDECAR["query_replay_icount"] // 2
    idx = R.find_icount(logs["full"], target)
    hit = events[idx - 1]
    assert hit.group == "instruction" and hit.icount >= target
    before = [e for e in events[:idx - 1] if e.group == "instruction"]
    assert before[-1].icount < target
    assert R.find_icount(logs["full"], 0) == 1
    with pytest.raises(ValueError):
        R.find_icount(logs["full"], SIDECAR["query_replay_icount"] + 1)
    window = R.events_around(logs["full"], idx, 3)
    assert [e.index for e in window] == list(range(idx - 3, idx + 4))
    assert window == events[idx - 4:idx + 3]
    tail = R.events_around(logs["full"], len(events), 5)
    assert tail[-1].name == "EVENT_END" and len(tail) == 6


def test_truncated_real_log(logs, events, tmp_path):
    """Real log cut short (a byte-level edit of the real recording)."""
    data = open(logs["full"], "rb").read()
    insn = [e for e in events if e.group == "instruction"][100]
    cut = tmp_path / "cut.rr"
    cut.write_bytes(data[:insn.offset + 3])
    with pytest.raises(R.TruncatedLog) as info:
        R.summarize(cut)
    exc = info.value
    assert exc.offset == insn.offset and exc.event_index == insn.index
    assert "inside EVENT_INSTRUCTION" in str(exc)
    assert exc.partial.events == insn.index - 1
    assert exc.partial.icount == events[insn.index - 2].icount
    cut.write_bytes(data[:-1])          # END missing
    with pytest.raises(R.TruncatedLog) as info:
        R.summarize(cut)
    assert "without EVENT_END" in str(info.value)
    assert info.value.partial.events == len(events) - 1


def test_id_table_guess_and_override(logs):
    # forcing the 7.1 table onto a 7.2 log shifts shutdown and later ids
    with pytest.raises(R.ReplayLogError):
        R.summarize(logs["full"], id_table="7.1")
    with pytest.raises(ValueError):
        R.summarize(logs["full"], id_table="5.1-7.0")


def test_cli_summary_json(logs, capsys):
    rc = dumpcli.main(["--summary", "--format", "json", logs["full"]])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert out["version"] == 0xe0200c and isinstance(out["version"], int)
    assert out["events"] == SIDECAR["replay_dump"]["events"]
    assert out["icount"] == SIDECAR["query_replay_icount"]
    assert out["clean_end"] is True


def test_cli_text_and_around(logs, events, capsys):
    assert dumpcli.main([logs["full"]]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(events)
    assert lines[-1] == f"{len(events)}:EVENT_END(39)"
    target = SIDECAR["query_replay_icount"] // 3
    assert dumpcli.main(["--around", str(target), "--context", "2",
                         logs["full"]]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5
    assert lines[2].endswith(f"<== icount {target} is reached here")
    assert dumpcli.main(["--find-icount", str(target), logs["full"]]) == 0
    assert int(capsys.readouterr().out) == R.find_icount(logs["full"],
                                                         target)
    assert dumpcli.main(["--format", "json", logs["full"]]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert len(rows) == len(events) and rows[-1]["name"] == "EVENT_END"
    net = next(r for r in rows if r["group"] == "async" and
               r["kind"] == "NET")
    assert len(bytes.fromhex(net["data"])) == net["size"]


def test_cli_unfinished_prints_then_fails(logs, capsys):
    rc = dumpcli.main([logs["killed"]])
    cap = capsys.readouterr()
    assert rc == R.UnfinishedLog.exit_code == 13
    out = cap.out.splitlines()
    assert out[0].startswith("1:EVENT_CLOCK_HOST(28) 0x")
    assert "UnfinishedLog" in cap.err and "offset" in cap.err
    n = int(out[-1].split(":")[0])
    assert f"event {n + 1})" in cap.err


def test_follow_growing_log(logs, tmp_path):
    """A log being written: bytes of the real log appended over time."""
    import threading
    import time
    data = open(logs["full"], "rb").read()
    grow = tmp_path / "grow.rr"
    grow.write_bytes(b"\0" * 12)

    def writer():
        with open(grow, "r+b") as f:
            f.seek(12)
            for i in range(12, len(data), 9000):
                f.write(data[i:i + 9000])
                f.flush()
                time.sleep(0.15)
            f.seek(0)
            f.write(data[:4])       # replay_finish() writes the version last
    t = threading.Thread(target=writer)
    t.start()
    try:
        seen = list(R.iter_events(grow, follow=True))
    finally:
        t.join()
    assert len(seen) == SIDECAR["replay_dump"]["events"]
    assert seen[-1].name == "EVENT_END"
    assert seen[-1].icount == SIDECAR["query_replay_icount"]


def test_quit_tail_is_located(logs):
    """QEMU 7.2 logged the QMP quit before the last instructions."""
    with open(os.path.join(FIXTURES, "aarch64-quit-tail.json"),
              encoding="utf-8") as f:
        sidecar = json.load(f)
    s = R.summarize(logs["tail"])
    assert s.icount == sidecar["query_replay_icount"]
    assert s.shutdown_icount == sidecar["quit_icount"] < s.icount
    assert s.shutdown_cause == "host-qmp-quit"
    events = list(R.iter_events(logs["tail"]))
    quit_ = next(e for e in events if e.group == "shutdown")
    assert quit_.icount == s.shutdown_icount
    after = [e for e in events if e.index > quit_.index]
    assert sum(e.fields["count"] for e in after
               if e.name == "EVENT_INSTRUCTION") == s.icount - quit_.icount


# -- logs of newer QEMU ------------------------------------------------------
# bios-disk-net-10.0 / -11.1: the same BIOS boot recorded by Debian's QEMU
# 10.0.2 (writes 0xe0200c) and 11.1.3 (writes 0xe0200e), plus QMP
# input-send-event key/btn/rel/abs/mtt events (make-fixtures.py --tag
# TAG --input; the exact commands are in its docstring and the sidecars).

def _sidecar(tag):
    with open(os.path.join(FIXTURES, f"bios-disk-net-{tag}.json"),
              encoding="utf-8") as f:
        return json.load(f)


#: what the bios-disk-net logs of QEMU 10.0 and 11.1 decode to, checked by
#: hand against the sources (formats.py) and QEMU 10.0's replay-dump.py
with open(os.path.join(FIXTURES, "bios-disk-net-expected.json"),
          encoding="utf-8") as _expected:
    NEWER = {tag: dict(want, version=int(want["version"], 16))
             for tag, want in json.load(_expected).items()}


@pytest.fixture(scope="module")
def newer_logs(tmp_path_factory):
    d = tmp_path_factory.mktemp("rr-newer")
    return {tag: _unxz(f"bios-disk-net-{tag}.rr.xz", d) for tag in NEWER}


@pytest.mark.parametrize("tag", sorted(NEWER))
def test_newer_qemu_summary(tag, newer_logs):
    want, sidecar = NEWER[tag], _sidecar(tag)
    assert sidecar["qemu_version"].startswith(want["qemu"])
    s = R.summarize(newer_logs[tag])
    assert s.version == s.header_version == want["version"]
    assert s.format == want["format"]
    assert s.icount == sidecar["query_replay_icount"]
    assert s.clean_end is True
    assert s.shutdown_cause == "host-qmp-quit"
    assert s.shutdown_causes == ["host-qmp-quit", "host-signal"]
    assert s.shutdown_icount == s.icount
    assert s.counts == want["counts"]
    assert s.events == sum(want["counts"].values())
    assert s.bytes_decoded == s.file_size == sidecar["log_size"]
    assert s.char_write_bytes == len(sidecar["console"])
    # neither 10.0 nor 11.1 read the host clock in this boot (7.2 did)
    assert s.host_clock_first is None
    assert s.virtual_clock_span_ns > 10 ** 9


@pytest.mark.parametrize("tag", sorted(NEWER))
def test_newer_qemu_every_event_kind(tag, newer_logs):
    want, sidecar = NEWER[tag], _sidecar(tag)
    events = list(R.iter_events(newer_logs[tag]))
    by_name = {}
    for ev in events:
        by_name.setdefault(ev.name, []).append(ev)
    assert [e.index for e in events] == list(range(1, len(events) + 1))
    for a, b in zip(events, events[1:]):
        assert b.offset == a.offset + a.size
    # the ids of 7.2's table: SHUTDOWN+cause 10..21, CHAR_WRITE 22, END 39
    ids = {e.name: e.id for e in events}
    assert ids["EVENT_SHUTDOWN_HOST_QMP_QUIT"] == 12
    assert ids["EVENT_SHUTDOWN_HOST_SIGNAL"] == 14
    assert ids["EVENT_CHAR_WRITE"] == 22 and ids["EVENT_END"] == 39
    assert ids["EVENT_CP_INIT"] == 37 and ids["EVENT_ASYNC_NET"] == 9
    assert [e.name for e in events[:2]] == ["EVENT_CP_INIT", "EVENT_CP_RESET"]
    assert [e.name for e in events[-2:]] == ["EVENT_SHUTDOWN_HOST_SIGNAL",
                                             "EVENT_END"]
    # serial out and in, blkreplay, filter-replay (iPXE's DHCP)
    assert all(w.fields == {"res": 1, "offset": 1}
               for w in by_name["EVENT_CHAR_WRITE"])
    assert b"".join(r.fields["data"]
                    for r in by_name["EVENT_ASYNC_CHAR_READ"]) == \
        sidecar["sent_to_console"].encode()
    assert [b.fields["id"] for b in by_name["EVENT_ASYNC_BLOCK"]] == [0]
    nets = by_name["EVENT_ASYNC_NET"]
    assert all(n.fields["size"] == len(n.fields["data"]) > 0 and
               n.fields["filter"] == 0 for n in nets)
    dhcp = [n for n in nets if n.fields["data"][12:14] == b"\x08\x00" and
            n.fields["data"][34:38] == b"\x00\x43\x00\x44"]
    assert dhcp
    # the QMP input events, in the order sent, each followed by a sync
    inputs = by_name["EVENT_ASYNC_INPUT"]
    assert [e.fields["input"] for e in inputs] == [
        ev["type"] for ev in sidecar["input_events"]]
    key = dict(want["key"], kind="INPUT")
    assert inputs[0].fields == dict(key, down=True)
    assert inputs[1].fields == dict(key, down=False)
    assert inputs[2].fields == {"input": "btn", "button": 0, "down": True,
                                "kind": "INPUT"}        # left
    assert inputs[3].fields["down"] is False
    assert inputs[4].fields == {"input": "rel", "axis": 0, "value": 5,
                                "kind": "INPUT"}        # x
    assert inputs[5].fields == {"input": "abs", "axis": 1, "value": 1000,
                                "kind": "INPUT"}        # y
    assert inputs[6].fields == {"input": "mtt", "type": 0, "slot": 0,
                                "tracking_id": 1, "axis": 0, "value": 2000,
                                "kind": "INPUT"}        # begin, x
    # key: event byte + kind + (KeyValueKind +) key + down
    assert inputs[0].size == (10 if "linux_key" in key else 14)
    for ev in inputs:
        assert events[ev.index].name == "EVENT_ASYNC_INPUT_SYNC"


def test_newer_qemu_text_lines(newer_logs):
    from avocado_rr.replaylog.render import text_line
    keys = {tag: next(e for e in R.iter_events(log)
                      if e.name == "EVENT_ASYNC_INPUT")
            for tag, log in newer_logs.items()}
    assert text_line(keys["11.1"]).endswith(
        ":EVENT_ASYNC_INPUT(5) key linux:30 down:1")
    assert text_line(keys["10.0"]).endswith(
        ":EVENT_ASYNC_INPUT(5) key qcode:36 down:1")


def test_qemu10_agrees_with_its_replay_dump(newer_logs):
    """QEMU 10.0.2's own scripts/replay-dump.py read the log up to its
    first ASYNC_INPUT, an event it does not decode: same count, icount
    and offset as this reader's."""
    dump = _sidecar("10.0")["replay_dump"]
    assert dump["stopped_at"] == "EVENT_ASYNC_INPUT"
    events = list(R.iter_events(newer_logs["10.0"]))
    first = next(e for e in events if e.name == "EVENT_ASYNC_INPUT")
    assert first.index == dump["events"] + 1
    assert events[first.index - 2].icount == dump["icount"]
    assert first.offset + 1 == dump["reached"]


def test_cli_summary_json_qemu11(newer_logs, capsys):
    rc = dumpcli.main(["--summary", "--format", "json", newer_logs["11.1"]])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert out["version"] == 0xe0200e and out["format"] == "0xe0200e/11.1"
    assert out["events"] == sum(NEWER["11.1"]["counts"].values())
    assert out["icount"] == _sidecar("11.1")["query_replay_icount"]
    assert out["clean_end"] is True
    assert out["counts"]["EVENT_ASYNC_NET"] == 4


def test_unknown_newer_version_names_the_newest(newer_logs, tmp_path,
                                                capsys):
    """The real 11.1 log with its header version edited to 0xe0200f."""
    data = bytearray(open(newer_logs["11.1"], "rb").read())
    assert data[:4] == b"\x00\xe0\x20\x0e"
    data[3] = 0x0f
    log = tmp_path / "future.rr"
    log.write_bytes(bytes(data))
    with pytest.raises(R.UnknownVersion) as info:
        R.summarize(log)
    assert info.value.reason.startswith(
        "unknown REPLAY_VERSION 0xe0200f: newest known 0xe0200e "
        "(QEMU 11.1)")
    assert info.value.offset == 0
    rc = dumpcli.main([str(log)])
    cap = capsys.readouterr()
    assert rc == R.UnknownVersion.exit_code == 12
    assert cap.out == ""
    assert "newest known 0xe0200e (QEMU 11.1)" in cap.err
