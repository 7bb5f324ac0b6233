"""Event-id tables of QEMU replay logs, one per REPLAY_VERSION.

Each table maps the event byte to an :class:`EventType` which says how
the payload is laid out (:data:`kind`, a small integer shared with the C
scanner) and what the event means (``group`` and ``arg``).

Sources: QEMU's replay/replay-internal.h, replay-events.c, replay-char.c,
replay-net.c, replay-audio.c, replay-random.c, replay-input.c and
qapi/run-state.json.  Checked against the sources:

* 0xe02008 is the bump of "replay: add BH oneshot event for block layer"
  (4.2): BH_ONESHOT is async kind 1 from this version on;
* the async record of versions before 0xe0200b is ``EVENT_ASYNC, u8
  checkpoint, u8 kind, payload`` (``replay_save_event``; QEMU's
  replay-dump.py reads the two bytes the other way round);
* 0xe0200b drops the checkpoint byte, 0xe0200c folds the kind into the
  event byte.

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

SUPPORTED_VERSIONS = tuple(range(0xe02006, 0xe0200c + 1))
#: the format QEMU on this machine (7.2) writes; used for version-0 logs
DEFAULT_VERSION = 0xe0200c


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
           random: bool) -> LogFormat:
    """Lay out the ReplayEvents enum the way replay-internal.h does."""
    events: list[EventType] = []

    def add(name, group, kind, arg=None):
        events.append(EventType(len(events), name, group, kind, arg))

    add("EVENT_INSTRUCTION", "instruction", K_INSN)
    add("EVENT_INTERRUPT", "interrupt", K_NONE)
    add("EVENT_EXCEPTION", "exception", K_NONE)
    if async_mode == "fold":
        for kind in async_kinds:
            add("EVENT_ASYNC_" + kind, "async", _ASYNC_LAYOUT[kind], kind)
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
    add("EVENT_AUDIO_IN", "audio_in",
        K_AUDIO_IN_Q if audio_qword else K_AUDIO_IN_D)
    if random:
        add("EVENT_RANDOM", "random", K_RANDOM)
    for clock in CLOCKS:
        add("EVENT_CLOCK_" + clock, "clock", K_QWORD, clock)
    for cp in CHECKPOINTS:
        add("EVENT_CP_" + cp, "checkpoint", K_NONE, cp)
    add("EVENT_END", "end", K_END)
    return LogFormat(version, variant, tuple(events),
                     async_kinds if async_mode != "fold" else async_kinds)


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
}

#: names accepted by ``--id-table`` (the variant labels, plus aliases)
ID_TABLES = {f.variant: f for fs in FORMATS.values() for f in fs}
ID_TABLES.update({"7.2": FORMATS[0xe0200c][0], "8": FORMATS[0xe0200c][0],
                  "9": FORMATS[0xe0200c][0], "10": FORMATS[0xe0200c][0]})


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
