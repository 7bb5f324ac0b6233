"""avocado-rr's settings: one registry, the only reader of ``AVOCADO_RR_*``.

Avocado 113.0 does not pass plugin settings to avocado-instrumented
tests, so the ``[replay]`` settings section (registered by the Avocado
plugin from :data:`SETTINGS`) is exported to ``AVOCADO_RR_*``
environment variables before the job starts, and everything reads them
here: the tests, the asset cache, the QEMU lookup, the command line.
The same variables can be set by hand. Test parameters (``-p`` / yaml)
still win over these.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

SECTION = "replay"

_TRUE = ("1", "yes", "true", "on")
_FALSE = ("", "0", "no", "false", "off")


@dataclass(frozen=True)
class Setting:
    """One setting: its environment variable, type and help."""

    key: str
    variable: str
    key_type: type
    help_msg: str
    metavar: str | None = None
    #: a path, made absolute before it reaches the tests
    is_path: bool = False
    #: registered as an Avocado ``[replay]`` setting / ``--replay-*``
    avocado: bool = True

    @property
    def namespace(self) -> str:
        return f"{SECTION}.{self.key}"

    @property
    def long_arg(self) -> str:
        return "--replay-" + self.key.replace("_", "-")

    @property
    def default(self) -> Any:
        return False if self.key_type is bool else None


#: every setting, in the order ``avocado config`` and ``--help`` show them
SETTINGS = (
    Setting("qemu_bin", "AVOCADO_RR_QEMU_BIN", str,
            "QEMU binary under test (default: qemu-system-<arch> of the "
            "build dir or QEMU version, else of PATH)", "PATH",
            is_path=True),
    Setting("qemu_build_dir", "AVOCADO_RR_QEMU_BUILD_DIR", str,
            "QEMU build tree whose qemu-system-<arch> binaries are tested",
            "DIR", is_path=True),
    Setting("qemu_version", "AVOCADO_RR_QEMU_VERSION", str,
            "test Debian's build of this QEMU version from the asset cache "
            "(configs/qemu.yaml: 7.2, 10.0, 11.1; 'avocado-rr qemu list')",
            "VERSION"),
    Setting("icount_shift", "AVOCADO_RR_ICOUNT_SHIFT", int,
            "-icount shift used to record and replay, instead of each "
            "test's own", "SHIFT"),
    Setting("stall_timeout", "AVOCADO_RR_STALL_TIMEOUT", float,
            "seconds without icount progress before a replay counts as "
            "stalled", "SECONDS"),
    Setting("checkpoints", "AVOCADO_RR_CHECKPOINTS", float,
            "state checkpoints per 10 s of recording (registers and RAM, "
            "compared by the replay to say where it first differs; 0: "
            "none; default 5)", "N"),
    Setting("replays", "AVOCADO_RR_REPLAYS", int,
            "replay each recording N times and compare the replays with "
            "each other (a race, or a mismatch with the recording)", "N"),
    Setting("event_trace", "AVOCADO_RR_EVENT_TRACE", bool,
            "trace both phases' replay event streams and name the first "
            "event where they part (QEMU 11.1+; costs ~20 %)"),
    Setting("keep_artifacts", "AVOCADO_RR_KEEP_ARTIFACTS", bool,
            "keep the replay log of passing tests too (failing tests "
            "always keep it)"),
    Setting("cache_dir", "AVOCADO_RR_CACHE_DIR", str,
            "asset cache directory (default: $AVOCADO_RR_CACHE_DIR, else "
            "$XDG_CACHE_HOME/avocado-rr)", "DIR", is_path=True),
    Setting("offline", "AVOCADO_RR_OFFLINE", bool,
            "never download assets while tests run: a missing asset fails "
            "the test (pre-fetch with 'avocado replay-assets fetch')"),
    Setting("assets_update", "AVOCADO_RR_ASSETS_UPDATE", bool,
            "when a locked Debian package has left the archive, re-resolve "
            "it and rewrite the lock (loudly)", avocado=False),
    Setting("assets_catalogue", "AVOCADO_RR_ASSETS_CATALOGUE", str,
            "the asset catalogue (default: configs/assets.yaml)", "FILE",
            is_path=True, avocado=False),
)

_BY_KEY = {setting.key: setting for setting in SETTINGS}


def setting(key: str) -> Setting:
    """The setting named ``key``."""
    return _BY_KEY[key]


def is_setting(key: str) -> bool:
    """Whether ``key`` names a setting."""
    return key in _BY_KEY


def parse_bool(value: Any) -> bool:
    """One rule for every boolean: 1/yes/true/on, 0/no/false/off or empty.

    :raises ValueError: for anything else.
    """
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{value!r} is not a boolean (use 1/yes/true/on or "
                     f"0/no/false/off)")


def cast(raw: Any, kind: type) -> Any:
    """``raw`` (text, or a YAML or Python value) as a ``kind``: ``bool``
    by :func:`parse_bool`, ``int``, ``float`` or ``str``.

    :raises ValueError: saying what ``raw`` is not.
    """
    if kind is bool:
        return raw if isinstance(raw, bool) else parse_bool(raw)
    if kind in (int, float):
        what = "an integer" if kind is int else "a number"
        if isinstance(raw, bool):
            raise ValueError(f"{raw!r} is not {what}")
        if isinstance(raw, kind):
            return raw
        if kind is float and isinstance(raw, int):
            return float(raw)
        if kind is int and isinstance(raw, float) and raw.is_integer():
            return int(raw)
        try:
            return kind(str(raw).strip())
        except ValueError:
            raise ValueError(f"{raw!r} is not {what}") from None
    return kind(raw)


def get(key: str) -> str | None:
    """The raw text of setting ``key`` from the environment, or None."""
    return os.environ.get(setting(key).variable) or None


def value(key: str) -> Any:
    """The typed value of setting ``key`` (None when unset; booleans are
    False when unset).

    :raises ValueError: naming the variable when its text is not a value
        of the setting's type.
    """
    item = setting(key)
    text = get(key)
    if text is None:
        return item.default
    try:
        return cast(text, item.key_type)
    except ValueError as exc:
        raise ValueError(f"{item.variable}={text!r}: {exc}") from None


def get_bool(key: str) -> bool:
    """The boolean setting ``key``."""
    return bool(value(key))


def environment_for(config: dict) -> dict[str, str]:
    """The ``AVOCADO_RR_*`` variables that an Avocado ``config`` sets."""
    env = {}
    for item in SETTINGS:
        if not item.avocado:
            continue
        raw = config.get(item.namespace)
        if raw is None or raw is False or raw == "":
            continue
        if item.key_type is bool:
            text = "1"
        elif item.is_path:
            text = os.path.abspath(os.path.expanduser(str(raw)))
        else:
            text = str(cast(raw, item.key_type))
        env[item.variable] = text
    return env
