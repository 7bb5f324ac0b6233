"""SYNTHETIC byte-level replay logs.

QEMU 7.2 on this machine can only write 0xe0200c/7.2+ logs, and never
writes a corrupt one on purpose; the logs below are built byte by byte
to cover the older formats (event ids written out from QEMU's
replay-internal.h enum of each release, not from formats.py), the
payloads of 0xe0200d/0xe0200e that the real 10.0/11.1 fixtures lack
(AUDIO_IN: no fixture boot has a sound device) and each error class.
They are not QEMU recordings.
"""

import struct

import pytest

from avocado_rr import replaylog as R
from avocado_rr.replaylog import dumpcli


def u8(v):
    return struct.pack(">B", v)


def u32(v):
    return struct.pack(">I", v & 0xFFFFFFFF)


def u64(v):
    return struct.pack(">Q", v & 0xFFFFFFFFFFFFFFFF)


def arr(b):
    return u32(len(b)) + b


# Event ids per format, from ReplayEvents in replay-internal.h
IDS = {
    # 2.9-2.10: single SHUTDOWN, no RANDOM, audio dwords
    0xe02006: dict(async_=3, shutdown=4, char_write=5, read_all=6,
                   read_all_err=7, audio_out=8, audio_in=9, clock_host=10,
                   clock_vrt=11, cp0=12, end=21),
    # 2.11-3.1: 8 shutdown causes + __MAX
    0xe02007: dict(async_=3, shutdown=4, char_write=13, read_all=14,
                   read_all_err=15, audio_out=16, audio_in=17, clock_host=18,
                   clock_vrt=19, cp0=20, end=29),
    # 4.2: 10 causes, audio qwords, BH_ONESHOT async kind
    0xe02008: dict(async_=3, shutdown=4, char_write=15, read_all=16,
                   read_all_err=17, audio_out=18, audio_in=19, clock_host=20,
                   clock_vrt=21, cp0=22, end=31),
    # 5.0 and 5.1-7.0: + RANDOM
    0xe02009: dict(async_=3, shutdown=4, char_write=15, read_all=16,
                   read_all_err=17, audio_out=18, audio_in=19, random=20,
                   clock_host=21, clock_vrt=22, cp0=23, end=32),
    0xe0200a: dict(async_=3, shutdown=4, char_write=15, read_all=16,
                   read_all_err=17, audio_out=18, audio_in=19, random=20,
                   clock_host=21, clock_vrt=22, cp0=23, end=32),
    0xe0200b: dict(async_=3, shutdown=4, char_write=15, read_all=16,
                   read_all_err=17, audio_out=18, audio_in=19, random=20,
                   clock_host=21, clock_vrt=22, cp0=23, end=32),
}


def old_log(version):
    """A log of *version* with one event of every kind."""
    ids = IDS[version]
    oneshot = version >= 0xe02008       # async kinds shift by one
    k = {"BH": 0, "INPUT": 1 + oneshot, "INPUT_SYNC": 2 + oneshot,
         "CHAR_READ": 3 + oneshot, "BLOCK": 4 + oneshot, "NET": 5 + oneshot}
    audio_q = version >= 0xe02008

    def asyn(kind, payload, cp=4):
        if version >= 0xe0200b:
            return u8(ids["async_"]) + u8(k[kind]) + payload
        return u8(ids["async_"]) + u8(cp) + u8(k[kind]) + payload

    body = [
        u8(ids["clock_host"]) + u64(0x1234567890),
        u8(ids["cp0"] + 7),                                 # CP_INIT
        u8(0) + u32(1000),
        u8(1), u8(2),                                       # intr, exc
        u8(ids["cp0"] + 4),                                 # CP_CLOCK_VIRTUAL
        asyn("BH", u64(1000)),
        asyn("CHAR_READ", u8(0) + arr(b"hi")),
        asyn("NET", u8(1) + u32(3) + arr(b"\xaa" * 60)),
        asyn("INPUT", u32(0) + u32(1) + u32(30) + u8(1)),   # key qcode
        asyn("INPUT", u32(1) + u32(2) + u8(0)),             # btn
        asyn("INPUT", u32(2) + u32(1) + u64(-5)),           # rel y -5
        asyn("INPUT_SYNC", b""),
        asyn("BLOCK", u64(7)),
        u8(0) + u32(500),
        u8(ids["char_write"]) + u32(3) + u32(0),
        u8(ids["read_all"]) + arr(b"abc"),
        u8(ids["read_all_err"]) + u32(-11),
        u8(ids["audio_out"]) + (u64(4096) if audio_q else u32(4096)),
        u8(ids["audio_in"]) + ((u64(2) + u64(5)) if audio_q
                               else (u32(2) + u32(5)))
        + u64(1) + u64(-1) + u64(2) + u64(-2),
        u8(ids["clock_vrt"]) + u64(10 ** 9),
    ]
    if "random" in ids:
        body.append(u8(ids["random"]) + u32(0) + arr(b"\x01" * 8))
    body += [u8(ids["clock_vrt"]) + u64(3 * 10 ** 9),
             u8(ids["shutdown"] + (0 if version == 0xe02006 else 3)),
             u8(ids["end"])]
    return u32(version) + u64(0) + b"".join(body)


@pytest.mark.parametrize("version", sorted(IDS))
def test_old_formats_decode_every_kind(version, tmp_path):
    log = tmp_path / "old.rr"
    log.write_bytes(old_log(version))
    evs = list(R.iter_events(log))
    names = [e.name for e in evs]
    f = {e.index: e.fields for e in evs}
    assert names[0] == "EVENT_CLOCK_HOST" and f[1]["value"] == 0x1234567890
    assert names[1] == "EVENT_CP_INIT" and names[5] == "EVENT_CP_CLOCK_VIRTUAL"
    assert f[3] == {"count": 1000}
    asyncs = [e for e in evs if e.group == "async"]
    assert [a.fields["kind"] for a in asyncs] == [
        "BH", "CHAR_READ", "NET", "INPUT", "INPUT", "INPUT", "INPUT_SYNC",
        "BLOCK"]
    if version < 0xe0200b:
        assert all(a.fields["checkpoint"] == 4 for a in asyncs)
    else:
        assert all("checkpoint" not in a.fields for a in asyncs)
    assert asyncs[0].fields["id"] == 1000
    assert asyncs[1].fields["data"] == b"hi"
    assert asyncs[2].fields["flags"] == 3 and asyncs[2].fields["size"] == 60
    assert asyncs[3].fields["qcode"] == 30 and asyncs[3].fields["down"]
    assert asyncs[4].fields["button"] == 2
    assert asyncs[5].fields["value"] == -5
    assert asyncs[7].fields["id"] == 7
    by = {e.group: e.fields for e in evs}
    assert by["char_write"] == {"res": 3, "offset": 0}
    assert by["char_read_all"] == {"data": b"abc"}
    assert by["char_read_all_error"] == {"error": -11}
    assert by["audio_out"] == {"played": 4096}
    assert by["audio_in"]["samples"] == [(1, -1), (2, -2)]
    if version >= 0xe02009:
        assert by["random"]["size"] == 8 and by["random"]["ret"] == 0
    s = R.summarize(log)
    assert s.version == version and s.clean_end
    assert s.icount == 1500 and s.events == len(evs)
    assert s.virtual_clock_span_ns == 2 * 10 ** 9
    assert s.char_write_bytes == 3
    expected_cause = {0xe02006: "none", 0xe02007: "host-signal"}.get(
        version, "host-qmp-system-reset")
    assert s.shutdown_cause == expected_cause


def test_0xe02007_variant_from_end_byte(tmp_path):
    """4.0/4.1 wrote 10 causes under the same version: END is 31."""
    log = tmp_path / "v7b.rr"
    log.write_bytes(u32(0xe02007) + u64(0) + u8(0) + u32(9) + u8(15) +
                    u32(1) + u32(0) + u8(8) + u8(31))
    s = R.summarize(log)
    assert s.format == "0xe02007/4.0-4.1"
    assert s.counts == {"EVENT_INSTRUCTION": 1, "EVENT_CHAR_WRITE": 1,
                        "EVENT_SHUTDOWN_HOST_SIGNAL": 1, "EVENT_END": 1}


def test_qemu71_table_detected_from_tail(tmp_path):
    """7.1 wrote 0xe0200c with 10 causes: CHAR_WRITE 21, END 38."""
    log = tmp_path / "v71.rr"
    log.write_bytes(u32(0xe0200c) + u64(0) + u8(0) + u32(42) + u8(21) +
                    u32(1) + u32(0) + u8(27) + u64(5) + u8(14) + u8(38))
    s = R.summarize(log)
    assert s.format == "0xe0200c/7.1"
    assert s.char_write_bytes == 1 and s.host_clock_first == 5
    assert s.shutdown_cause == "host-signal" and s.clean_end
    # the 7.2+ table read the same bytes differently: 38 is CP_RESET
    with pytest.raises(R.TruncatedLog):
        R.summarize(log, id_table="7.2+")


def log72(*events):
    return u32(0xe0200c) + u64(0) + b"".join(events)


ERROR_CASES = {
    "empty": (b"", R.EmptyLog, 0, None),
    "unknown-version": (u32(0xe02005) + u64(0) + u8(39), R.UnknownVersion,
                        0, None),
    "newer-version": (u32(0xe0200f) + u64(0) + u8(39), R.UnknownVersion,
                      0, None),
    "unknown-event": (log72(u8(0) + u32(5), u8(1), u8(45), u8(39)),
                      R.UnknownEvent, 12 + 5 + 1, 3),
    "bad-length": (log72(u8(0) + u32(5), u8(23) + u32(0xFFFFFFF0),
                         u8(39)), R.BadPayload, 12 + 5 + 1, 2),
    "bad-input-kind": (log72(u8(5) + u32(9) + u64(0), u8(39)),
                       R.BadPayload, 13, 1),
    "truncated": (log72(u8(0) + u32(5), u8(28) + u64(7)[:5]),
                  R.TruncatedLog, 17, 2),
    "no-end": (log72(u8(0) + u32(5), u8(1)), R.TruncatedLog, 18, 3),
    "unfinished": (b"\0" * 12 + u8(0) + u32(5) + u8(1), R.UnfinishedLog,
                   18, 3),
}


@pytest.mark.parametrize("case", sorted(ERROR_CASES))
@pytest.mark.parametrize("accel", [False, None])
def test_error_classes(case, accel, tmp_path, capsys):
    data, cls, offset, index = ERROR_CASES[case]
    log = tmp_path / f"{case}.rr"
    log.write_bytes(data)
    with pytest.raises(cls) as info:
        R.summarize(log, accel=accel)
    exc = info.value
    assert exc.offset == offset and exc.event_index == index
    assert f"offset {offset}" in str(exc)
    args = ["--pure"] if accel is False else []
    rc = dumpcli.main(args + [str(log)])
    out, err = capsys.readouterr()
    assert rc == cls.exit_code
    assert cls.__name__ in err
    if index:       # everything before the fault is printed
        assert len(out.splitlines()) == index - 1
        assert exc.partial.events == index - 1
        if index > 1:
            assert out.startswith("1:EVENT_INSTRUCTION(0) + 5 -> 5\n")


def test_exit_codes_are_distinct():
    classes = [R.EmptyLog, R.UnknownVersion, R.UnfinishedLog,
               R.TruncatedLog, R.UnknownEvent, R.BadPayload]
    codes = {c.exit_code for c in classes}
    assert len(codes) == len(classes) and 0 not in codes
    assert all(issubclass(c, R.ReplayLogError) for c in classes)


def test_72_kinds_absent_from_the_real_fixture(tmp_path):
    """0xe0200c/7.2+ events the BIOS fixture boot does not produce."""
    log = tmp_path / "v72.rr"
    log.write_bytes(log72(
        u8(3) + u64(111),                           # ASYNC_BH
        u8(4) + u64(222),                           # ASYNC_BH_ONESHOT
        u8(5) + u32(0) + u32(0) + u64(42) + u8(1),  # INPUT key number
        u8(5) + u32(3) + u32(0) + u64(300),         # INPUT abs x
        u8(5) + u32(4) + u32(1) + u64(2) + u64(3) + u32(1) + u64(-4),
        u8(6),                                      # ASYNC_INPUT_SYNC
        u8(23) + arr(b"xyz"), u8(24) + u32(-5),
        u8(25) + u64(1 << 33),                      # AUDIO_OUT qword
        u8(26) + u64(1) + u64(9) + u64(7) + u64(8),
        u8(27) + u32(-1) + arr(b""),                # RANDOM failed
        u8(20), u8(39)))
    evs = list(R.iter_events(log))
    f = [e.fields for e in evs]
    assert [e.name for e in evs[:2]] == ["EVENT_ASYNC_BH",
                                         "EVENT_ASYNC_BH_ONESHOT"]
    assert f[0] == {"id": 111, "kind": "BH"}
    assert f[1] == {"id": 222, "kind": "BH_ONESHOT"}
    assert f[2] == {"input": "key", "number": 42, "down": True,
                    "kind": "INPUT"}
    assert f[3]["input"] == "abs" and f[3]["value"] == 300
    assert f[4]["input"] == "mtt" and f[4]["slot"] == 2 and \
        f[4]["value"] == -4
    assert f[5] == {"kind": "INPUT_SYNC"}
    assert f[6] == {"data": b"xyz"} and f[7] == {"error": -5}
    assert f[8] == {"played": 1 << 33}
    assert f[9]["samples"] == [(7, 8)] and f[9]["wpos"] == 9
    assert f[10]["ret"] == -1 and f[10]["size"] == 0
    assert evs[11].name == "EVENT_SHUTDOWN_SNAPSHOT_LOAD"
    s = R.summarize(log)
    assert s.shutdown_cause == "snapshot-load" and s.icount == 0
    assert s.clean_end and s.events == 13


def log_v(version, *events):
    return u32(version) + u64(0) + b"".join(events)


def test_unknown_version_messages(tmp_path):
    log = tmp_path / "v.rr"
    for version, text in (
            (0xe0200f, "unknown REPLAY_VERSION 0xe0200f: newest known "
                       "0xe0200e (QEMU 11.1); the log comes from a QEMU "
                       "newer than this reader knows"),
            (0xe02005, "unknown REPLAY_VERSION 0xe02005: known 0xe02006 "
                       "(QEMU 2.9-2.10) to newest known 0xe0200e "
                       "(QEMU 11.1)")):
        log.write_bytes(log_v(version, u8(39)))
        with pytest.raises(R.UnknownVersion) as info:
            R.summarize(log)
        assert info.value.reason == text


# 0xe0200d/0xe0200e keep 7.2's ids: INPUT 5, AUDIO_IN 26, END 39
AUDIO_IN_NSAMPLES = u8(26) + u64(2) + u64(1) + u64(-1) + u64(2) + u64(-2)


@pytest.mark.parametrize("version", [0xe0200d, 0xe0200e])
def test_audio_in_without_wpos(version, tmp_path):
    """0xe0200d on (b39263acfd): qword nsamples, then the samples."""
    log = tmp_path / "audio.rr"
    log.write_bytes(log_v(version, u8(0) + u32(7), AUDIO_IN_NSAMPLES,
                          u8(26) + u64(0), u8(14), u8(39)))
    evs = list(R.iter_events(log))
    assert evs[1].fields == {"recorded": 2, "samples": [(1, -1), (2, -2)]}
    assert evs[1].size == 1 + 8 + 32
    assert evs[2].fields == {"recorded": 0, "samples": []}
    from avocado_rr.replaylog.render import text_line
    assert text_line(evs[1]) == "2:EVENT_AUDIO_IN(26) recorded:2"
    s = R.summarize(log)
    assert s.clean_end and s.events == 5 and s.icount == 7
    # the same bytes under 0xe0200c (wpos qword) cannot end cleanly
    log.write_bytes(log_v(0xe0200c, u8(0) + u32(7), AUDIO_IN_NSAMPLES,
                          u8(26) + u64(0), u8(14), u8(39)))
    with pytest.raises(R.ReplayLogError):
        R.summarize(log)


def test_0xe0200d_keys_are_still_key_values(tmp_path):
    log = tmp_path / "d.rr"
    log.write_bytes(log_v(0xe0200d, u8(5) + u32(0) + u32(1) + u32(36) +
                          u8(1), u8(39)))
    ev = next(R.iter_events(log))
    assert ev.fields == {"input": "key", "qcode": 36, "down": True,
                         "kind": "INPUT"}


def test_0xe0200e_linux_keys(tmp_path):
    """0xe0200e: dword kind 0, dword Linux key code, byte down."""
    log = tmp_path / "e.rr"
    log.write_bytes(log_v(0xe0200e,
                          u8(5) + u32(0) + u32(30) + u8(1),
                          u8(5) + u32(0) + u32(0x2ff) + u8(0),
                          u8(5) + u32(1) + u32(2) + u8(1),      # btn
                          u8(6), u8(39)))
    evs = list(R.iter_events(log))
    assert [e.fields for e in evs[:3]] == [
        {"input": "key", "linux_key": 30, "down": True, "kind": "INPUT"},
        {"input": "key", "linux_key": 0x2ff, "down": False, "kind": "INPUT"},
        {"input": "btn", "button": 2, "down": True, "kind": "INPUT"}]
    assert [e.size for e in evs[:3]] == [10, 10, 10]
    assert R.summarize(log).clean_end
