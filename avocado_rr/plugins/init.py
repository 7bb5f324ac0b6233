"""The ``[replay]`` settings section, registered on every Avocado start."""

from __future__ import annotations

from avocado.core.plugin_interfaces import Init
from avocado.core.settings import settings

from avocado_rr import settings as rr_settings

SECTION = rr_settings.SECTION

#: the ``[replay]`` settings: those of avocado_rr.settings that Avocado
#: registers, in the order ``avocado config`` and ``--help`` show them
SETTINGS = tuple(item for item in rr_settings.SETTINGS if item.avocado)

#: ``[replay] summary``: write the job's replay summary (table, JSON, SVG)
SUMMARY_KEY = "summary"
SUMMARY_NAMESPACE = f"{SECTION}.{SUMMARY_KEY}"


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
            section=SECTION, key=SUMMARY_KEY, default=True, key_type=bool,
            help_msg="write the replay summary of each job: a table on the "
            "console, replay-summary.json and replay-summary.svg in the "
            "job results dir")
