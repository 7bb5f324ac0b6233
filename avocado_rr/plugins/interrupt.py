"""Ctrl-C ends an ``avocado run`` job between its asyncio steps.

Avocado 113.0 runs a job's tasks in an asyncio loop and turns Ctrl-C
into Python's KeyboardInterrupt, which it catches around the loop to end
every task as INTERRUPTED.  But Python raises KeyboardInterrupt at
whatever bytecode the main thread is running: when that is inside one of
the loop's tasks, that task dies with it.  If it is the task that hands
the status server's messages to the job's result (``_update_status`` of
Avocado's nrunner), nothing a test says afterwards reaches the results,
not even its "interrupted", and Avocado's reconciliation reports the test
as SKIP: 1 in 30 jobs Ctrl-C'd as their first QEMU started, when the
loop is busiest with the test's log messages.

While a job's loop runs, this plugin's SIGINT handler does not raise at
once: it asks the loop to raise KeyboardInterrupt from a callback of its
own, at the next step boundary, where it ends ``run_until_complete`` and
reaches Avocado's handler without killing any task.  Outside a running
loop it raises at once, as Python does.  A job started with SIGINT
ignored keeps it ignored.
"""

from __future__ import annotations

import asyncio
import signal

from avocado.core.plugin_interfaces import JobPost, JobPre


def _raise_keyboard_interrupt() -> None:
    raise KeyboardInterrupt


def interrupt_between_steps(signum, frame) -> None:  # pylint: disable=W0613
    """SIGINT handler: KeyboardInterrupt now, or, inside a running asyncio
    loop, at the loop's next step boundary."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        raise KeyboardInterrupt from None
    loop.call_soon_threadsafe(_raise_keyboard_interrupt)


class ReplayInterrupt(JobPre, JobPost):
    """Makes Ctrl-C end a job's tasks as INTERRUPTED, never lose them."""

    name = "replay_interrupt"
    description = "avocado-rr: Ctrl-C interrupts a job between asyncio steps"

    def __init__(self):
        self._previous = None

    def pre(self, job):
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self._previous = signal.signal(signal.SIGINT,
                                           interrupt_between_steps)

    def post(self, job):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
