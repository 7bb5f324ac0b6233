"""Hand the ``[replay]`` settings to the tests of a job.

Avocado 113.0 does not pass plugin settings to avocado-instrumented tests,
and test processes inherit the environment of ``avocado run``: so before
the job starts, every ``[replay]`` setting that is set (a config file, a
``--replay-*`` option) is exported to its ``AVOCADO_RR_*`` variable, which
:mod:`avocado_rr.settings` reads in the test.  A setting left unset keeps
whatever the environment already says.  The previous environment is put
back when the job ends.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from avocado.core.output import LOG_JOB
from avocado.core.plugin_interfaces import JobPost, JobPre

from avocado_rr import settings as rr_settings


def environment_for(config: Mapping) -> dict[str, str]:
    """The ``AVOCADO_RR_*`` variables that ``config`` sets."""
    return rr_settings.environment_for(config)


class ReplayJobPrePost(JobPre, JobPost):
    """Exports the ``[replay]`` settings to the tests' environment."""

    name = "replay_env"
    description = "avocado-rr: exports [replay] settings to the tests"

    def __init__(self):
        self._saved: dict[str, str | None] = {}

    def pre(self, job):
        for variable, value in environment_for(job.config).items():
            self._saved.setdefault(variable, os.environ.get(variable))
            os.environ[variable] = value
            LOG_JOB.info("avocado-rr: %s=%s", variable, value)

    def post(self, job):
        for variable, value in self._saved.items():
            if value is None:
                os.environ.pop(variable, None)
            else:
                os.environ[variable] = value
        self._saved.clear()
