"""Comparing state checkpoints: what a difference means, and where."""

import mmap
import os

import pytest

from avocado_rr.divergence import (ComparedPoint, PointKind, StateDiff,
                                   classify, diff_registers, locate)
from avocado_rr.guestram import PAGE, SHM_DIR, GuestRam, PageDigests, \
    page_digests, ram_bytes
from avocado_rr.probes import parse_registers

X86_REGISTERS = """\
RAX=0000000000000000 RBX=ffffffff82a03e50 RCX=0000000000000001 RDX=0000000000000000
RSI=0000000000000083 RDI=ffff88800fa1f880 RBP=ffffffff82a03e48 RSP=ffffffff82a03e30
RIP=ffffffff81e4b8ce RFL=00000246 [---Z-P-] CPL=0 II=0 A20=1 SMM=0 HLT=1
ES =0000 0000000000000000 00000000 00000000
CS =0010 0000000000000000 ffffffff 00af9b00 DPL=0 CS64 [-RA]
GDT=     fffffe0000001000 0000007f
CCS=0000000000000044 CCD=0000000000000000 CCO=EFLAGS
EFER=0000000000000d01
"""


def point(icount, registers=None, pages=(), events=()):
    return ComparedPoint(icount, f"t={icount}", PointKind.EQUAL,
                         StateDiff(dict(registers or {}), list(pages)),
                         list(events))


def test_registers_of_x86_info_registers():
    regs = parse_registers(X86_REGISTERS)
    assert regs["RIP"] == "ffffffff81e4b8ce"
    assert regs["RFL"] == "00000246"
    # a segment keeps selector, base, limit and flags
    assert regs["CS"] == "0010 0000000000000000 ffffffff 00af9b00"
    assert regs["GDT"] == "fffffe0000001000 0000007f"
    assert regs["EFER"] == "0000000000000d01"


def test_lazy_condition_codes_are_not_state():
    rec = parse_registers(X86_REGISTERS)
    rep = dict(rec, CCS="0000000000000000", CCO="ADDB")
    assert diff_registers(rec, rep) == {}
    rep["RIP"] = "ffffffff81000000"
    assert diff_registers(rec, rep) == {
        "RIP": ["ffffffff81e4b8ce", "ffffffff81000000"]}


def test_a_difference_that_recovers_is_transient():
    entry = {"RIP": ["a", "b"], "RSP": ["c", "d"]}
    points = classify([
        point(10), point(20, entry, [7], ["EVENT_INTERRUPT"]),
        point(30, entry, [], ["EVENT_EXCEPTION"]), point(40),
        point(50, {"RAX": ["a", "b"]}), point(60)])
    assert [p.kind for p in points] == [
        PointKind.EQUAL, PointKind.BOUNDARY, PointKind.BOUNDARY,
        PointKind.EQUAL, PointKind.RECOVERED, PointKind.EQUAL]
    location = locate(points, 70)
    assert location.kind == "none" and not location.located
    assert [t["icount"] for t in location.transients] == [20, 30, 50]


def test_a_difference_that_persists_then_heals_is_a_divergence():
    """Two checkpoints in a row that differ beyond an interrupt entry:
    the replay's state was wrong for a while, even if it healed."""
    points = classify([point(10), point(20, {"RAX": ["a", "b"]}, [3]),
                       point(30, {}, [3]), point(40)])
    location = locate(points, 40)
    assert location.kind == "divergence"
    assert (location.last_equal_icount, location.first_different_icount) \
        == (10, 20)


def test_a_difference_that_persists_is_a_divergence():
    points = classify([point(10), point(20), point(30, {"RIP": ["a", "b"]},
                                                    range(40)),
                       point(40, {}, [3])])
    location = locate(points, 80)
    assert location.kind == "divergence" and location.located
    assert (location.last_equal_icount, location.first_different_icount) \
        == (20, 30)
    assert location.page_count == 40 and len(location.pages) == 8
    assert location.registers == {"RIP": ["a", "b"]}
    assert location.share(30) == "37.5%"
    text = "\n".join(location.describe())
    assert "between icount 20 (25.0%)" in text and "icount 30" in text


def test_the_last_checkpoint_at_an_interrupt_entry_is_a_boundary():
    entry = point(30, {"RIP": ["a", "b"], "RSP": ["c", "d"],
                       "RFL": ["e", "f"]}, [5], ["EVENT_INTERRUPT"])
    assert locate(classify([point(10), entry]), 30).kind == "none"
    assert entry.kind == PointKind.BOUNDARY
    # the same difference without an interrupt in the log is not
    bare = point(30, entry.diff.registers, [5], ["EVENT_CLOCK_HOST"])
    assert locate(classify([point(10), bare]), 30).kind == "divergence"
    # nor one that touches more than an interrupt entry can
    wide = point(30, dict(entry.diff.registers, RAX=["1", "2"]), [5],
                 ["EVENT_INTERRUPT"])
    assert locate(classify([point(10), wide]), 30).kind == "divergence"


def test_entry_transients_in_a_row_at_the_end_are_no_divergence():
    """An aarch64 tx=bh replay entered the IRQ vector at two checkpoints
    in a row where its recording had not, then stalled: boundaries."""
    entry = {"PC": ["554164", "fffffbfffdbf7c80"],
             "PSTATE": ["80000000", "000003c5"], "SP": ["a", "b"]}
    points = classify([point(10), point(20, entry, [], ["EVENT_INTERRUPT"]),
                       point(30, entry, [], ["EVENT_INTERRUPT"])])
    assert [p.kind for p in points[1:]] == [PointKind.BOUNDARY] * 2
    assert locate(points, 40, failed_at=35).kind == "failure"


def test_a_32_bit_arm_irq_entry_at_the_last_checkpoint_is_a_boundary():
    """An arm virt replay (7.2) at the IRQ vector in IRQ mode, its
    recording still in SVC mode, at the last checkpoint, an interrupt in
    the log there: 32-bit arm names PC, SP and LR R15, R13 and R14."""
    entry = {"PSR": ["80000053", "800001d2"], "R13": ["e0985c78", "c15aaac0"],
             "R14": ["edc41f4e", "c07c4890"], "R15": ["c07c488c", "ffff0018"]}
    events = ["EVENT_CP_CLOCK_WARP_ACCOUNT", "EVENT_CP_CLOCK_VIRTUAL",
              "EVENT_CP_CLOCK_WARP_ACCOUNT", "EVENT_INTERRUPT"]
    points = classify([point(10), point(20, entry, [], events)])
    assert points[1].kind == PointKind.BOUNDARY
    assert locate(points, 20).kind == "none"
    # a general register besides them is more than an entry
    wider = dict(entry, R0=["0", "1"])
    assert classify([point(10), point(20, wider, [], events)])[1].kind \
        == PointKind.DIVERGED


def test_a_ram_difference_alone_is_no_interrupt_entry():
    """An entry moves the PC: a page that differs with equal registers is
    a divergence even where the log has an interrupt."""
    points = classify([point(10), point(20, {}, [16], ["EVENT_INTERRUPT"])])
    assert points[1].kind == PointKind.DIVERGED


def test_an_entry_then_an_io_completion_that_recover_are_boundaries():
    """The checker's one false alarm in the 10.0/11.1 soak (11.1
    Aarch64VirtTxBh, console and icount reproduced): the replay at the IRQ
    vector where its recording was in user space, then, at the next
    checkpoint, one page of a block read not yet in RAM (the log's
    ASYNC_BLOCK event at that icount), then equal at the stop."""
    entry = {"PC": ["00000000005540dc", "fffffbfffdbf7c80"],
             "PSTATE": ["0000000080000000", "00000000000003c5"],
             "SP": ["0000ffffc3ea4c70", "ffff80000825c000"]}
    timer = ["EVENT_CP_CLOCK_WARP_ACCOUNT", "EVENT_CP_CLOCK_VIRTUAL",
             "EVENT_CP_CLOCK_WARP_ACCOUNT", "EVENT_CP_CLOCK_WARP_ACCOUNT",
             "EVENT_INTERRUPT"]
    block = ["EVENT_ASYNC_BLOCK", "EVENT_CP_CLOCK_WARP_ACCOUNT",
             "EVENT_CP_CLOCK_VIRTUAL", "EVENT_INTERRUPT"]
    points = classify([point(1143501750),
                       point(1279123913, entry, [], timer),
                       point(1386123913, {}, [0x4f1b], block),
                       point(1489916497)])
    assert [p.kind for p in points[1:3]] == [PointKind.BOUNDARY] * 2
    assert locate(points, 1489916497).kind == "none"
    # not recovered: the block's page may be the replay going wrong
    points = classify([point(10), point(20, entry, [], timer),
                       point(30, {}, [0x4f1b], block)])
    assert locate(points, 30).kind == "divergence"
    # a page with no I/O completion at its icount is no boundary
    points = classify([point(10), point(20, entry, [], timer),
                       point(30, {}, [0x4f1b], timer), point(40)])
    assert locate(points, 40).kind == "divergence"
    # nor a register besides the page
    points = classify([point(10), point(20, entry, [], timer),
                       point(30, {"X0": ["0", "1"]}, [0x4f1b], block),
                       point(40)])
    assert locate(points, 40).kind == "divergence"


def test_a_failed_replay_is_placed_after_the_last_equal_checkpoint():
    points = classify([point(10), point(20)])
    location = locate(points, 100, failed_at=25)
    assert location.kind == "failure"
    assert (location.last_equal_icount, location.first_different_icount) \
        == (20, 25)
    # a failure before any checkpoint: from the start
    assert locate([], 100, failed_at=5).last_equal_icount is None


def test_page_digests_read_the_ram_file_in_place(tmp_path):
    path = tmp_path / "ram"
    with open(path, "wb") as ram:
        ram.truncate(64 * PAGE)             # a sparse file: holes
        ram.seek(3 * PAGE)
        ram.write(b"kernel" * 100)
        ram.seek(40 * PAGE + 10)
        ram.write(b"\x01")
        ram.seek(50 * PAGE)
        ram.write(bytes(PAGE))              # data, but zero: left out
    fd = os.open(path, os.O_RDONLY)
    try:
        first = page_digests(fd)
    finally:
        os.close(fd)
    assert list(first.pages) == [3, 40]
    again = PageDigests.from_bytes(first.to_bytes())
    assert again.pages == first.pages and again.crcs == first.crcs
    assert again.digest == first.digest
    with open(path, "r+b") as ram:
        ram.seek(40 * PAGE + 10)
        ram.write(b"\x02")
        ram.seek(60 * PAGE)
        ram.write(b"\x03")
    fd = os.open(path, os.O_RDONLY)
    try:
        second = page_digests(fd)
    finally:
        os.close(fd)
    assert second.digest != first.digest
    assert first.differing(second) == [40, 60]


def _shm_files(name: str) -> list[str]:
    return [entry for entry in os.listdir(SHM_DIR)
            if entry.startswith(f"avocado-rr-{name}-")]


def test_guest_ram_has_no_name_in_dev_shm():
    """The file is nameless from the start: nothing to leak if the
    process is killed before QEMU is up; QEMU opens it by descriptor."""
    ram = GuestRam("16M", "unit")
    try:
        assert ram.size == 16 << 20 == ram_bytes("16") == ram_bytes("16M")
        assert f"size={16 << 20}" in " ".join(ram.qemu_args())
        assert f"mem-path={ram.path}," in " ".join(ram.qemu_args())
        assert _shm_files("unit") == []
        assert len(ram.digests().pages) == 0
        # what QEMU does: open the path, write through a shared mapping
        with open(ram.path, "r+b") as qemu_side:
            assert os.fstat(qemu_side.fileno()).st_size == 16 << 20
            with mmap.mmap(qemu_side.fileno(), ram.size) as guest:
                guest[5 * PAGE] = 1
        assert list(ram.digests().pages) == [5]
    finally:
        ram.close()
    with pytest.raises(ValueError, match="closed"):
        ram.digests()
    assert ram_bytes("2G") == 2 << 30
