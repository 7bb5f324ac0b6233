"""The ``avocado-rr-instrumented`` runner: Avocado's, at Avocado's pace.

Avocado 113.0's avocado-instrumented runner checks its test's message
queue every 10 ms (``RUNNER_RUN_CHECK_INTERVAL``) and, each time it is
empty, posts a "running" message to the job's status server: about 100
JSON messages a second for as long as a test runs, each one parsed by
the job process.  Next to a QEMU that keeps a 2-core machine busy under
icount, that costs a replay about 8 % (benchmarks/bench_harness.py).

This runner runs the very same tests the same way (it is a subclass of
Avocado's), but it sleeps on the queue until the test sends a message,
and posts "running" every ``RUNNER_RUN_STATUS_INTERVAL`` (0.5 s), as
Avocado asks of runners: two wake-ups a second instead of a hundred
while a test runs.
"""

from __future__ import annotations

import multiprocessing
import sys
from time import monotonic
from typing import Iterator

from avocado.core.nrunner.app import BaseRunnerApp
from avocado.core.nrunner.runner import RUNNER_RUN_STATUS_INTERVAL
from avocado.core.utils import messages
from avocado.plugins.runners.avocado_instrumented import (
    AvocadoInstrumentedTestRunner)

#: the kind of runnable of avocado-rr's tests
KIND = "avocado-rr-instrumented"


def wait_for_message(queue, timeout: float) -> bool:
    """Sleep until ``queue`` (a multiprocessing.SimpleQueue) holds a
    message or ``timeout`` seconds pass; whether it holds one."""
    # SimpleQueue.empty() is a zero-timeout poll of this pipe end
    return queue._reader.poll(timeout)  # pylint: disable=W0212


class ReplayTestRunner(AvocadoInstrumentedTestRunner):
    """Runner for avocado-instrumented tests built on avocado-rr.

    Runnable attributes as for avocado-instrumented: ``uri`` is
    ``path/to/test.py:Class.test_method``.
    """

    name = KIND
    description = ("Runner for avocado-rr's avocado-instrumented tests "
                   "(fewer status messages)")

    @staticmethod
    def _monitor(queue) -> Iterator[dict]:
        """The test's messages, and "running" every status interval."""
        next_running = monotonic()
        while True:
            now = monotonic()
            if now >= next_running:
                next_running = now + RUNNER_RUN_STATUS_INTERVAL
                yield messages.RunningMessage.get()
            if not wait_for_message(queue,
                                    max(0.0, next_running - monotonic())):
                continue
            message = queue.get()
            if message.get("type") != "early_state":
                yield message
            if message.get("status") == "finished":
                return


class RunnerApp(BaseRunnerApp):
    PROG_NAME = f"avocado-runner-{KIND}"
    PROG_DESCRIPTION = f"nrunner application for {KIND} tests"
    RUNNABLE_KINDS_CAPABLE = [KIND]


def main() -> None:
    if sys.platform == "darwin":
        multiprocessing.set_start_method("fork")
    RunnerApp(print).run()


if __name__ == "__main__":
    main()
