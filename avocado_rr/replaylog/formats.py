"""Event-id tables of QEMU replay logs, one per REPLAY_VERSION.

Each table maps the event byte to an :class:`EventType` which says how
the payload is laid out (:data:`kind`, a small integer shared with the C
scanner) and what the event means (``group`` and ``arg``).

Sources: QEMU's replay/replay-internal.h, replay.c, replay-events.c,
replay-char.c, replay-net.c, replay-audio.c, replay-random.c,
replay-input.c, include/system/replay.h (include/sysemu/ before 10.0) and
qapi/run-state.json.  Checked against the sources:

* 0xe02008 is the bump of "replay: add BH oneshot event for block layer"
  (4.2): BH_ONESHOT is async kind 1 from this version on;
* the async record of versions before 0xe0200b is ``EVENT_ASYNC, u8
  checkpoint, u8 kind, payload`` (``replay_save_event``; QEMU's
  replay-dump.py reads the two bytes the other way round);
* 0xe0200b drops the checkpoint byte, 0xe0200c folds the kind into the
  event byte.

What changed after 7.2's 0xe0200c.  No event id moved: ReplayEvents,
ReplayAsyncEventKind, ReplayClockKind and ReplayCheckpoint are those of
7.2 in every source read below, and ShutdownCause still has 7.2's 11
causes (10.0.2, 10.2.2 and master of 2026-02-15 read; 11.1.3 measured:
its logs put host-qmp-quit at 12, host-signal at 14, CHAR_WRITE at 22 and
END at 39, as 7.2's do), so 0xe0200d and 0xe0200e use the 0xe0200c/7.2+
id table with two payloads changed:

* 0xe0200c is still what 10.0 and 10.2 write.  Read in Debian's
  qemu_10.0.2+ds.orig.tar.xz and qemu_10.2.2+ds.orig.tar.xz (replay.c:
  REPLAY_VERSION 0xe0200c; run-state.json: the 11 causes of 7.2, up to
  snapshot-load) and in upstream master of 2026-02-15 (75fdca413d in the
  pbo-linaro/qemu-ci mirror): same enums, same payloads.  Verified on a
  real 10.0.2 log (tests/unit/fixtures/replaylog/bios-disk-net-10.0.*,
  serial, blkreplay, filter-replay and every input kind): the 7.2+ ids,
  END 39, key events as KeyValueKind qcode, QEMU 10.0.2's own
  replay-dump.py agreeing up to the first input event it cannot decode.
  Since 8.1 (2bfb10dff2, "ui: add the infrastructure to support MT
  events") INPUT has the ``mtt`` kind, without a version bump.
* 0xe0200d: AUDIO_IN no longer saves the ring position: ``qword
  nsamples`` then nsamples x (qword left, qword right), the ``wpos``
  qword is gone (:data:`K_AUDIO_IN_N`).  Read in commit b39263acfd
  "replay: remove dependency on audio/" (M.-A. Lureau, 2026-01-23; in the
  qemu-ci mirror on the branch of its series, not yet on master of
  2026-02-15; first posted as RFC 16/24 of "audio: add GStreamer backend",
  2025-12-01).  That it was merged as read is inferred: the 0xe0200e
  patch below applies to the replay.c blob this commit produces
  (2e5c6fa82e); its first release is probably 11.0 (inferred; no 11.0
  build was at hand).  No real log has an AUDIO_IN event (the fixture
  boots have no sound device): the layout is from the source only.
* 0xe0200e: INPUT key events carry a Linux key code: ``dword kind (0),
  dword linux_key, byte down``; the KeyValueKind dword (number / qcode)
  is gone.  btn, rel, abs and mtt are unchanged (:data:`K_INPUT_LINUX`).
  Read in "[PATCH RFC 15/28] replay: Use Linux key codes" (A. Odaki,
  2026-05-09, on qemu-devel; replay-input.c and REPLAY_VERSION 0xe0200d ->
  0xe0200e).  Debian's 11.1 source package could not be downloaded here,
  so the merged form was checked on real logs instead: QEMU 11.1.3
  (Debian 1:11.1.3+ds-2~bpo13+1) writes 0xe0200e, and its log of a BIOS
  boot with serial, blkreplay, filter-replay and QMP input-send-event
  key/btn/rel/abs/mtt events (bios-disk-net-11.1.*) decodes with this
  table: the 7.2+ ids, END 39, a key 'a' recorded as Linux code 30 in 9
  bytes, every other input kind as in 0xe0200c.

Inferred, not verified: the number of shutdown causes of 0xe02007 logs
(8 up to 3.1, 10 in 4.0/4.1): both variants exist and the variant is
picked from the log's final END byte, like the 7.1 / 7.2+ split of
0xe0200c.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Payload layouts (must match the K_* constants of _scan.c)
K_INSN = 0          # dword count
K_NONE = 1          # nothing
K_QWORD = 2         # qword
K_DWORD = 3         # dword
K_CHAR_WRITE = 4    # dword res, dword offset
K_ARRAY = 5         # dword len, bytes
K_CHAR_READ = 6     # byte char index, array
K_NET = 7           # byte filter index, dword flags, array
K_INPUT = 8         # InputEvent, 9-16 bytes
K_AUDIO_IN_D = 9    # dword recorded, dword wpos, recorded x (qword, qword)
K_AUDIO_IN_Q = 10   # qword recorded, qword wpos, recorded x (qword, qword)
K_RANDOM = 11       # dword ret, array
K_ASYNC_CP = 12     # byte checkpoint, byte kind, kind payload (< 0xe0200b)
K_ASYNC_KIND = 13   # byte kind, kind payload (0xe0200b)
K_END = 14          # nothing, last event
K_AUDIO_IN_N = 15   # qword nsamples, nsamples x (qword, qword) (0xe0200d)
K_INPUT_LINUX = 16  # InputEvent, key = Linux key code (0xe0200e), 9-36 b.
K_INVALID = 255     # not an event of this format

SHUTDOWN_CAUSES_8 = ("none", "host-error", "host-qmp", "host-signal",
                     "host-ui", "guest-shutdown", "guest-reset",
                     "guest-panic")
SHUTDOWN_CAUSES_10 = ("none", "host-error", "host-qmp-quit",
                      "host-qmp-system-reset", "host-signal", "host-ui",
                      "guest-shutdown", "guest-reset", "guest-panic",
                      "subsystem-reset")
SHUTDOWN_CAUSES_11 = SHUTDOWN_CAUSES_10 + ("snapshot-load",)

# Suffixes QEMU's replay-dump.py uses in event names
_CAUSE_SUFFIX = {
    "none": "", "host-error": "_HOST_ERR", "host-qmp": "_HOST_QMP",
    "host-qmp-quit": "_HOST_QMP_QUIT",
    "host-qmp-system-reset": "_HOST_QMP_RESET",
    "host-signal": "_HOST_SIGNAL", "host-ui": "_HOST_UI",
    "guest-shutdown": "_GUEST_SHUTDOWN", "guest-reset": "_GUEST_RESET",
    "guest-panic": "_GUEST_PANIC", "subsystem-reset": "_SUBSYS_RESET",
    "snapshot-load": "_SNAPSHOT_LOAD", "__MAX": "___MAX",
}

ASYNC_KINDS_OLD = ("BH", "INPUT", "INPUT_SYNC", "CHAR_READ", "BLOCK", "NET")
ASYNC_KINDS = ("BH", "BH_ONESHOT", "INPUT", "INPUT_SYNC", "CHAR_READ",
               "BLOCK", "NET")
_ASYNC_LAYOUT = {"BH": K_QWORD, "BH_ONESHOT": K_QWORD, "INPUT": K_INPUT,
                 "INPUT_SYNC": K_NONE, "CHAR_READ": K_CHAR_READ,
                 "BLOCK": K_QWORD, "NET": K_NET}

CLOCKS = ("HOST", "VIRTUAL_RT")
CHECKPOINTS = ("CLOCK_WARP_START", "CLOCK_WARP_ACCOUNT", "RESET_REQUESTED",
               "SUSPEND_REQUESTED", "CLOCK_VIRTUAL", "CLOCK_HOST",
               "CLOCK_VIRTUAL_RT", "INIT", "RESET")

#: the QEMU releases that write each version (see the module docstring
#: for what is verified and what is inferred)
RELEASES = {
    0xe02006: "2.9-2.10", 0xe02007: "2.11-4.1", 0xe02008: "4.2",
    0xe02009: "5.0", 0xe0200a: "5.1-7.0", 0xe0200b: "7.1 development",
    0xe0200c: "7.1-10.2", 0xe0200d: "11.0", 0xe0200e: "11.1",
}
SUPPORTED_VERSIONS = tuple(sorted(RELEASES))
OLDEST_VERSION = SUPPORTED_VERSIONS[0]
NEWEST_VERSION = SUPPORTED_VERSIONS[-1]
#: the format QEMU on this machine (7.2) writes; used for version-0 logs
DEFAULT_VERSION = 0xe0200c


def describe_version(version: int) -> str:
    """``0xe0200e (QEMU 11.1)``, or just the number if unknown."""
    release = RELEASES.get(version)
    return f"{version:#x} (QEMU {release})" if release else f"{version:#x}"


def unknown_version_message(version: int) -> str:
    """Why a log of *version* cannot be read: names the newest version
    this reader knows."""
    newest = describe_version(NEWEST_VERSION)
    if version > NEWEST_VERSION:
        return (f"unknown REPLAY_VERSION {version:#x}: newest known "
                f"{newest}; the log comes from a QEMU newer than this "
                f"reader knows")
    return (f"unknown REPLAY_VERSION {version:#x}: known "
            f"{describe_version(OLDEST_VERSION)} to newest known {newest}")


@dataclass(frozen=True)
class EventType:
    """What one event byte means in one format."""

    id: int
    name: str           # replay-dump.py style, e.g. EVENT_ASYNC_BH
    group: str          # instruction, async, shutdown, clock, ...
    kind: int           # payload layout, K_*
    arg: str | None = None  # cause, clock, checkpoint or async kind


@dataclass(frozen=True)
class LogFormat:
    """The event table of one REPLAY_VERSION (and QEMU release range)."""

    version: int
    variant: str        # e.g. "7.2+", "7.1", "4.2"
    events: tuple[EventType, ...]
    async_kinds: tuple[str, ...] = ()
    end_id: int = field(init=False)

    def __post_init__(self):
        end = [e.id for e in self.events if e.group == "end"]
        object.__setattr__(self, "end_id", end[0])

    @property
    def name(self) -> str:
        """Short label, e.g. ``0xe0200c/7.2+``."""
        return f"{self.version:#x}/{self.variant}"

    def kind_table(self) -> bytes:
        """256-byte table event byte -> payload layout, for the scanner."""
        table = bytearray([K_INVALID] * 256)
        for ev in self.events:
            table[ev.id] = ev.kind
        return bytes(table)

    def async_table(self) -> bytes:
        """256-byte table async kind -> payload layout (old formats)."""
        table = bytearray([K_INVALID] * 256)
        for i, kind in enumerate(self.async_kinds):
            table[i] = _ASYNC_LAYOUT[kind]
        return bytes(table)


def _build(version: int, variant: str, causes: tuple[str, ...] | None,
           async_mode: str, async_kinds: tuple[str, ...], audio_qword: bool,
           random: bool, audio_in_nsamples: bool = False,
           linux_keys: bool = False) -> LogFormat:
    """Lay out the ReplayEvents enum the way replay-internal.h does.

    :param audio_in_nsamples: AUDIO_IN without the ring position
                              (0xe0200d on)
    :param linux_keys: INPUT key events as Linux key codes (0xe0200e on)
    """
    layout = dict(_ASYNC_LAYOUT)
    if linux_keys:
        layout["INPUT"] = K_INPUT_LINUX
    events: list[EventType] = []

    def add(name, group, kind, arg=None):
        events.append(EventType(len(events), name, group, kind, arg))

    add("EVENT_INSTRUCTION", "instruction", K_INSN)
    add("EVENT_INTERRUPT", "interrupt", K_NONE)
    add("EVENT_EXCEPTION", "exception", K_NONE)
    if async_mode == "fold":
        for kind in async_kinds:
            add("EVENT_ASYNC_" + kind, "async", layout[kind], kind)
    else:
        add("EVENT_ASYNC", "async",
            K_ASYNC_CP if async_mode == "checkpoint" else K_ASYNC_KIND)
    if causes is None:
        add("EVENT_SHUTDOWN", "shutdown", K_NONE, "none")
    else:
        for cause in causes + ("__MAX",):
            add("EVENT_SHUTDOWN" + _CAUSE_SUFFIX[cause], "shutdown", K_NONE,
                cause)
    add("EVENT_CHAR_WRITE", "char_write", K_CHAR_WRITE)
    add("EVENT_CHAR_READ_ALL", "char_read_all", K_ARRAY)
    add("EVENT_CHAR_READ_ALL_ERROR", "char_read_all_error", K_DWORD)
    add("EVENT_AUDIO_OUT", "audio_out", K_QWORD if audio_qword else K_DWORD)
    if audio_in_nsamples:
        add("EVENT_AUDIO_IN", "audio_in", K_AUDIO_IN_N)
    else:
        add("EVENT_AUDIO_IN", "audio_in",
            K_AUDIO_IN_Q if audio_qword else K_AUDIO_IN_D)
    if random:
        add("EVENT_RANDOM", "random", K_RANDOM)
    for clock in CLOCKS:
        add("EVENT_CLOCK_" + clock, "clock", K_QWORD, clock)
    for cp in CHECKPOINTS:
        add("EVENT_CP_" + cp, "checkpoint", K_NONE, cp)
    add("EVENT_END", "end", K_END)
    return LogFormat(version, variant, tuple(events), async_kinds)


#: every known format, variants of one version newest first
FORMATS: dict[int, tuple[LogFormat, ...]] = {
    0xe02006: (_build(0xe02006, "2.9-2.10", None, "checkpoint",
                      ASYNC_KINDS_OLD, False, False),),
    0xe02007: (_build(0xe02007, "2.11-3.1", SHUTDOWN_CAUSES_8, "checkpoint",
                      ASYNC_KINDS_OLD, False, False),
               _build(0xe02007, "4.0-4.1", SHUTDOWN_CAUSES_10, "checkpoint",
                      ASYNC_KINDS_OLD, False, False)),
    0xe02008: (_build(0xe02008, "4.2", SHUTDOWN_CAUSES_10, "checkpoint",
                      ASYNC_KINDS, True, False),),
    0xe02009: (_build(0xe02009, "5.0", SHUTDOWN_CAUSES_10, "checkpoint",
                      ASYNC_KINDS, True, True),),
    0xe0200a: (_build(0xe0200a, "5.1-7.0", SHUTDOWN_CAUSES_10, "checkpoint",
                      ASYNC_KINDS, True, True),),
    0xe0200b: (_build(0xe0200b, "dev-7.1", SHUTDOWN_CAUSES_10, "kind",
                      ASYNC_KINDS, True, True),),
    0xe0200c: (_build(0xe0200c, "7.2+", SHUTDOWN_CAUSES_11, "fold",
                      ASYNC_KINDS, True, True),
               _build(0xe0200c, "7.1", SHUTDOWN_CAUSES_10, "fold",
                      ASYNC_KINDS, True, True)),
    0xe0200d: (_build(0xe0200d, "11.0", SHUTDOWN_CAUSES_11, "fold",
                      ASYNC_KINDS, True, True, audio_in_nsamples=True),),
    0xe0200e: (_build(0xe0200e, "11.1", SHUTDOWN_CAUSES_11, "fold",
                      ASYNC_KINDS, True, True, audio_in_nsamples=True,
                      linux_keys=True),),
}
assert tuple(sorted(FORMATS)) == SUPPORTED_VERSIONS

#: names accepted by ``--id-table`` (the variant labels, plus aliases)
ID_TABLES = {f.variant: f for fs in FORMATS.values() for f in fs}
ID_TABLES.update({alias: FORMATS[0xe0200c][0]
                  for alias in ("7.2", "8", "9", "10", "10.0", "10.1",
                                "10.2")})


def choose_format(version: int, last_byte: int | None,
                  id_table: str | LogFormat | None = None) -> LogFormat:
    """Pick the event table for a log.

    :param version: the header's REPLAY_VERSION (must be in FORMATS)
    :param last_byte: the log's final byte (an END id if it ended cleanly),
                      None if unknown
    :param id_table: override, a variant label such as ``"7.1"`` or a
                     :class:`LogFormat`
    :raises KeyError: unknown version or id_table
    """
    if isinstance(id_table, LogFormat):
        return id_table
    if id_table is not None:
        fmt = ID_TABLES[id_table]
        if fmt.version != version:
            raise KeyError(f"id table {id_table!r} is for version "
                           f"{fmt.version:#x}, the log is {version:#x}")
        return fmt
    variants = FORMATS[version]
    for fmt in variants:
        if last_byte == fmt.end_id:
            return fmt
    return variants[0]
