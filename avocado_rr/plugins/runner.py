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

It also makes an interrupted job's status certain.  A terminal's Ctrl-C
reaches every process of the foreground process group: the job, this
runner and the test process.  The job handles it (it ends each task with
SIGTERM and reports it INTERRUPTED); in Avocado's runner the same SIGINT
also raises KeyboardInterrupt at a random place of the runner and of the
test process, and Avocado's SIGTERM handler raises TestInterrupt("Timeout
reached") wherever they are: a quarter of the jobs interrupted as a test
started reported ERROR ("release unlocked lock", "Timeout reached")
instead of INTERRUPTED, because the runner's "finished" message beat the
job's.  Here SIGINT is ignored by the runner and the test process (the
job owns it), and SIGTERM only sets a flag that the runner looks at
between waits: it then ends the test process (whose tearDown stops QEMU
and keeps a verdict of where the pair was), forwards what the test still
says for a moment, and finishes the task as ``interrupted``, well within
the second Avocado gives a task between SIGTERM and SIGKILL.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import traceback
from multiprocessing.connection import wait
from time import monotonic
from typing import Callable, Iterator

from avocado.core.nrunner.app import BaseRunnerApp
from avocado.core.nrunner.runner import RUNNER_RUN_STATUS_INTERVAL
from avocado.core.utils import messages
from avocado.plugins.runners.avocado_instrumented import (
    AvocadoInstrumentedTestRunner)

#: the kind of runnable of avocado-rr's tests
KIND = "avocado-rr-instrumented"
#: seconds an interrupted test gets to report before the runner finishes
#: its task (Avocado SIGKILLs a runner 1 s after its SIGTERM)
INTERRUPT_GRACE = 0.6
#: the fail reason of a task the job ended
INTERRUPTED_REASON = ("Test interrupted: the job ended it (Ctrl-C, or "
                      "the job's timeout)")


def wait_for_message(queue, timeout: float, wake: int | None = None) -> bool:
    """Sleep until ``queue`` (a multiprocessing.SimpleQueue) holds a
    message, ``wake`` (a file descriptor) is readable, or ``timeout``
    seconds pass; whether the queue holds a message."""
    # SimpleQueue.empty() is a zero-timeout poll of this pipe end
    reader = queue._reader  # pylint: disable=W0212
    if wake is None:
        return reader.poll(timeout)
    wait([reader, wake], timeout)
    return reader.poll(0)


class ReplayTestRunner(AvocadoInstrumentedTestRunner):
    """Runner for avocado-instrumented tests built on avocado-rr.

    Runnable attributes as for avocado-instrumented: ``uri`` is
    ``path/to/test.py:Class.test_method``.
    """

    name = KIND
    description = ("Runner for avocado-rr's avocado-instrumented tests "
                   "(fewer status messages)")

    @staticmethod
    def _monitor(queue, stop: Callable[[], bool] = lambda: False,
                 wake: int | None = None) -> Iterator[dict]:
        """The test's messages, and "running" every status interval, until
        the test's "finished" message or until ``stop()`` says so (it is
        asked after every wait; ``wake`` ends a wait early)."""
        next_running = monotonic()
        while not stop():
            now = monotonic()
            if now >= next_running:
                next_running = now + RUNNER_RUN_STATUS_INTERVAL
                yield messages.RunningMessage.get()
            if not wait_for_message(queue,
                                    max(0.0, next_running - monotonic()),
                                    wake):
                continue
            message = queue.get()
            if message.get("type") != "early_state":
                yield message
            if message.get("status") == "finished":
                return

    def _on_sigterm(self, signum, frame):  # pylint: disable=W0613
        """The job ends this task: say so between waits, never by raising
        in the middle of sending a message."""
        self._interrupted = True
        os.write(self._wake_w, b"!")

    def run(self, runnable) -> Iterator[dict]:
        # pylint: disable=W0201
        self._interrupted = False
        self._wake_r, self._wake_w = os.pipe()
        signal.signal(signal.SIGTERM, self._on_sigterm)
        # the job owns Ctrl-C; the test process inherits the ignore
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        self.runnable = runnable
        yield messages.StartedMessage.get()
        try:
            queue = multiprocessing.SimpleQueue()
            process = multiprocessing.Process(
                target=self._run_avocado, args=(runnable, queue))
            process.start()
        except Exception as details:  # pylint: disable=W0703
            # as Avocado's runner reports a test it could not start
            yield messages.StderrMessage.get(traceback.format_exc())
            yield messages.FinishedMessage.get(
                "error", fail_reason=str(details),
                fail_class=type(details).__name__,
                traceback=traceback.format_exc())
            return
        finished = False
        for message in self._monitor(queue, lambda: self._interrupted,
                                     self._wake_r):
            finished = message.get("status") == "finished"
            yield message
        if not finished:
            # SIGTERM: the test's tearDown stops QEMU and keeps a verdict
            process.terminate()
            yield from self._finish_interrupted(queue, process)

    def _finish_interrupted(self, queue, process) -> Iterator[dict]:
        """Forward what the ended test still says for INTERRUPT_GRACE
        seconds, then finish the task as ``interrupted``, whatever status
        the test process reached on its way out."""
        deadline = monotonic() + INTERRUPT_GRACE
        while monotonic() < deadline:
            if not wait_for_message(queue, deadline - monotonic()):
                if not process.is_alive() and queue.empty():
                    break
                continue
            message = queue.get()
            if message.get("type") == "early_state":
                continue
            if message.get("status") == "finished":
                break
            yield message
        yield messages.FinishedMessage.get(
            "interrupted", fail_reason=INTERRUPTED_REASON,
            class_name=self.runnable.uri.split(":", 1)[-1].split(".")[0],
            fail_class="TestInterrupt")


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
