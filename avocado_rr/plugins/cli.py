"""Avocado command-line plugins of avocado-rr.

``avocado replay-dump`` and ``avocado replay-assets`` are the very
``avocado-rr dump`` / ``avocado-rr assets`` commands (same modules, same
options, same exit codes), mounted as Avocado subcommands; the
``--replay-*`` options of ``avocado run`` set the ``[replay]`` settings.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping

from avocado.core.plugin_interfaces import CLI, CLICmd
from avocado.core.settings import settings

from avocado_rr import assetscli, qemucli
from avocado_rr.plugins.init import SETTINGS, SUMMARY_NAMESPACE
from avocado_rr.replaylog import dumpcli


def _namespace(config: Mapping) -> argparse.Namespace:
    """The argparse view of Avocado's config (its dotted keys left out)."""
    return argparse.Namespace(**{key: value for key, value in config.items()
                                 if "." not in key})


def _summary(module) -> str:
    return (module.__doc__ or "").strip().splitlines()[0].strip(". ")


class ReplayDump(CLICmd):
    """``avocado replay-dump LOG``: decode a QEMU replay log."""

    name = "replay-dump"
    description = "Decode a QEMU record/replay log (avocado-rr dump)"

    def configure(self, parser):
        parser = super().configure(parser)
        dumpcli.add_arguments(parser)

    def run(self, config):
        return dumpcli.run(_namespace(config))


class _CacheCommand(CLICmd):
    """An ``avocado-rr`` subcommand on the asset cache, as an Avocado one;
    ``module`` has ``add_arguments`` and ``run``."""

    module = None

    def configure(self, parser):
        parser = super().configure(parser)
        self.module.add_arguments(parser)

    def run(self, config):
        args = _namespace(config)
        if not args.cache_dir:      # [replay] cache_dir of the config files
            args.cache_dir = config.get("replay.cache_dir")
        return self.module.run(args)


class ReplayAssets(_CacheCommand):
    """``avocado replay-assets list|fetch|verify|lock``."""

    name = "replay-assets"
    description = ("List, pre-fetch, verify and lock the kernels and other "
                   "assets of the replay tests (avocado-rr assets)")
    module = assetscli


class ReplayQemu(_CacheCommand):
    """``avocado replay-qemu list|fetch|verify|lock|path``."""

    name = "replay-qemu"
    description = ("List, fetch, verify and lock Debian's builds of the QEMU "
                   "versions under test (avocado-rr qemu)")
    module = qemucli


class ReplayRunOptions(CLI):
    """The ``--replay-*`` options of ``avocado run``."""

    name = "replay_run"
    description = "avocado-rr: --replay-* options of 'avocado run'"

    def configure(self, parser):
        run = parser.subcommands.choices.get("run")
        if run is None:
            return
        group = run.add_argument_group(
            "record/replay (avocado-rr)",
            "the [replay] settings for this job; the tests get them as "
            "AVOCADO_RR_* environment variables; test parameters (-p, -m) "
            "still win")
        for setting in SETTINGS:
            settings.add_argparser_to_option(
                namespace=setting.namespace, parser=group,
                long_arg=setting.long_arg, metavar=setting.metavar)
        settings.add_argparser_to_option(
            namespace=SUMMARY_NAMESPACE, parser=group,
            long_arg="--replay-no-summary", action="store_false",
            help_msg="do not write the replay summary of the job")

    def run(self, config):
        pass
