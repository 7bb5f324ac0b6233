"""The ``[replay]`` settings section, registered on every Avocado start."""

from __future__ import annotations

from dataclasses import dataclass

from avocado.core.plugin_interfaces import Init
from avocado.core.settings import settings

SECTION = "replay"


@dataclass(frozen=True)
class ReplaySetting:
    """One ``[replay]`` setting; ``key`` is its avocado_rr.settings name."""

    key: str
    key_type: type
    help_msg: str
    metavar: str | None = None
    #: a path, made absolute before it reaches the tests
    is_path: bool = False

    @property
    def namespace(self) -> str:
        return f"{SECTION}.{self.key}"

    @property
    def long_arg(self) -> str:
        return "--replay-" + self.key.replace("_", "-")

    @property
    def default(self):
        return False if self.key_type is bool else None


#: the settings, in the order ``avocado config`` and ``--help`` show them
SETTINGS = (
    ReplaySetting("qemu_bin", str, "QEMU binary under test (default: "
                  "qemu-system-<arch> of the build dir, else of PATH)",
                  "PATH", is_path=True),
    ReplaySetting("qemu_build_dir", str, "QEMU build tree whose "
                  "qemu-system-<arch> binaries are tested", "DIR",
                  is_path=True),
    ReplaySetting("icount_shift", int, "-icount shift used to record and "
                  "replay, instead of each test's own", "SHIFT"),
    ReplaySetting("stall_timeout", float, "seconds without icount progress "
                  "before a replay counts as stalled", "SECONDS"),
    ReplaySetting("keep_artifacts", bool, "keep the replay log of passing "
                  "tests too (failing tests always keep it)"),
    ReplaySetting("cache_dir", str, "asset cache directory (default: "
                  "$AVOCADO_RR_CACHE_DIR, else $XDG_CACHE_HOME/avocado-rr)",
                  "DIR", is_path=True),
    ReplaySetting("offline", bool, "never download assets while tests run: "
                  "a missing asset fails the test (pre-fetch with "
                  "'avocado replay-assets fetch')"),
)

#: ``[replay] summary``: write the job's replay summary (table, JSON, SVG)
SUMMARY_NAMESPACE = f"{SECTION}.summary"


def by_key(key: str) -> ReplaySetting:
    """The setting named ``key``."""
    for setting in SETTINGS:
        if setting.key == key:
            return setting
    raise KeyError(key)


class ReplayInit(Init):
    """Registers the ``[replay]`` settings section."""

    name = "replay_settings"
    description = "avocado-rr: registers the [replay] settings"

    def initialize(self):
        for setting in SETTINGS:
            settings.register_option(
                section=SECTION, key=setting.key, default=setting.default,
                help_msg=setting.help_msg, key_type=setting.key_type)
        settings.register_option(
            section=SECTION, key="summary", default=True, key_type=bool,
            help_msg="write the replay summary of each job: a table on the "
            "console, replay-summary.json and replay-summary.svg in the "
            "job results dir")
