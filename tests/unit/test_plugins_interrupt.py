"""Ctrl-C during an Avocado job's asyncio loop kills none of its tasks."""

import asyncio
import signal

import pytest

from avocado_rr.plugins.interrupt import (ReplayInterrupt,
                                          interrupt_between_steps)


@pytest.fixture
def python_sigint():
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def _ctrl_c_inside_a_task(loop) -> asyncio.Task:
    """Run ``loop`` until Ctrl-C, which arrives in the middle of a step of
    a task that keeps working (as Avocado's status updater does); that
    task."""
    async def updater():
        signal.raise_signal(signal.SIGINT)       # lands inside this step
        while True:
            await asyncio.sleep(0.01)

    async def job():
        await asyncio.sleep(10)

    job_task = loop.create_task(job())
    task = loop.create_task(updater())
    with pytest.raises(KeyboardInterrupt):
        loop.run_until_complete(job_task)
    job_task.cancel()
    loop.run_until_complete(asyncio.gather(job_task, return_exceptions=True))
    return task


def test_python_default_kills_the_task_it_lands_in(python_sigint):
    """What the plugin is for: Python's own handler raises inside a task
    step, and that task is dead."""
    loop = asyncio.new_event_loop()
    try:
        task = _ctrl_c_inside_a_task(loop)
        assert task.done()
        assert isinstance(task.exception(), KeyboardInterrupt)
    finally:
        loop.close()


def test_ctrl_c_ends_the_loop_and_every_task_survives(python_sigint):
    signal.signal(signal.SIGINT, interrupt_between_steps)
    loop = asyncio.new_event_loop()
    try:
        task = _ctrl_c_inside_a_task(loop)
        assert not task.done()
        # the loop still runs it after the interrupt, as Avocado needs to
        # finish the interrupted tasks
        loop.run_until_complete(asyncio.sleep(0.05))
        assert not task.done()
        task.cancel()
        loop.run_until_complete(asyncio.sleep(0))
    finally:
        loop.close()


def test_outside_a_loop_ctrl_c_raises_at_once(python_sigint):
    signal.signal(signal.SIGINT, interrupt_between_steps)
    with pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)


def test_the_job_plugin_installs_and_restores_the_handler(python_sigint):
    plugin = ReplayInterrupt()
    plugin.pre(job=None)
    assert signal.getsignal(signal.SIGINT) is interrupt_between_steps
    plugin.post(job=None)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_an_ignored_sigint_stays_ignored():
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        plugin = ReplayInterrupt()
        plugin.pre(job=None)
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
        plugin.post(job=None)
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
