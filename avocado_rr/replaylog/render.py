"""Text and JSON renderings of replay log events.

The text form is the one of QEMU's scripts/replay-dump.py,
``N:EVENT_NAME(id) payload``, with ``+ n -> total`` on instructions, so a
dump can be diffed against replay-dump.py's output (line numbers, names
and instruction lines are the same; payloads say more).  The C scanner
(_scan.c) produces exactly the same text for the common events; keep
both in step.
"""

from __future__ import annotations

from typing import Any

from avocado_rr.replaylog.reader import Event

_U64_MASK = (1 << 64) - 1


def _input_text(f: dict) -> str:
    kind = f["input"]
    if kind == "key":
        key = (f"qcode:{f['qcode']}" if "qcode" in f else
               f"linux:{f['linux_key']}" if "linux_key" in f else
               f"number:{f['number']}")
        return f"key {key} down:{int(f['down'])}"
    if kind == "btn":
        return f"btn button:{f['button']} down:{int(f['down'])}"
    if kind in ("rel", "abs"):
        return f"{kind} axis:{f['axis']} value:{f['value']}"
    return (f"mtt type:{f['type']} slot:{f['slot']} "
            f"tracking_id:{f['tracking_id']} axis:{f['axis']} "
            f"value:{f['value']}")


def _async_text(f: dict) -> str:
    kind = f["kind"]
    if kind in ("BH", "BH_ONESHOT", "BLOCK"):
        return f"id:{f['id']}"
    if kind == "CHAR_READ":
        return f"device:{f['char']:x} chars:{f['data']!r}"
    if kind == "NET":
        return f"net:{f['filter']:x} flags:{f['flags']:x} bytes:{f['size']}"
    if kind == "INPUT":
        return _input_text(f)
    return ""


def payload_text(ev: Event) -> str:
    """The payload part of the text line of *ev* ('' if none)."""
    f = ev.fields
    g = ev.group
    if g == "instruction":
        return f"+ {f['count']} -> {ev.icount}"
    if g == "async":
        text = _async_text(f)
        if "checkpoint" in f:       # formats before 0xe0200b
            text = f"checkpoint:{f['checkpoint']} {f['kind']} {text}"
            return text.rstrip()
        if ev.name == "EVENT_ASYNC":    # 0xe0200b
            return f"{f['kind']} {text}".rstrip()
        return text
    if g == "audio_in" and "wpos" in f:     # before 0xe0200d
        return f"recorded:{f['recorded']} wpos:{f['wpos']}"
    simple = _SIMPLE_PAYLOADS.get(g)
    return simple(f) if simple else ""


#: event group -> the text of its payload fields
_SIMPLE_PAYLOADS = {
    "shutdown": lambda f: f"cause:{f['cause']}",
    "clock": lambda f: f"0x{f['value'] & _U64_MASK:x}",
    "char_write": lambda f: f"{f['offset']} -> {f['res']}",
    "char_read_all": lambda f: f"chars:{f['data']!r}",
    "char_read_all_error": lambda f: str(f["error"]),
    "audio_out": lambda f: str(f["played"]),
    "audio_in": lambda f: f"recorded:{f['recorded']}",
    "random": lambda f: f"{f['size']} bytes"
                        + (" (getrandom failed)" if f["ret"] else ""),
}


def text_line(ev: Event) -> str:
    """``N:EVENT_NAME(id) payload``, without newline."""
    text = payload_text(ev)
    head = f"{ev.index}:{ev.name}({ev.id})"
    return f"{head} {text}" if text else head


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value


def event_dict(ev: Event) -> dict:
    """A JSON-ready dict of *ev*; bytes become hex strings, and char data
    also gets a ``text`` rendering."""
    out = {"index": ev.index, "offset": ev.offset, "id": ev.id,
           "name": ev.name, "group": ev.group, "icount": ev.icount}
    for key, value in ev.fields.items():
        out[key] = _jsonable(value)
    if ev.group in ("async", "char_read_all") and "data" in ev.fields \
            and ev.fields.get("kind") != "NET":
        out["text"] = ev.fields["data"].decode("utf-8", "backslashreplace")
    return out
