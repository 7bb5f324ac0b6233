"""The avocado-rr-instrumented resolver and runner."""

import multiprocessing
import textwrap
import time
from pathlib import Path

import pytest
from avocado.core.nrunner.runner import RUNNER_RUN_STATUS_INTERVAL
from avocado.core.resolver import ReferenceResolutionResult

from avocado_rr.plugins import runner
from avocado_rr.plugins.resolver import ReplayTestResolver
from avocado_rr.plugins.runner import KIND, ReplayTestRunner

ROOT = Path(__file__).resolve().parents[2]

MIXED = textwrap.dedent('''\
    from avocado import Test
    from avocado_rr.testing.kernel import ReplayKernelTest


    class Plain(Test):
        def test_plain(self):
            pass


    class Own(ReplayKernelTest):
        """:avocado: tags=arch:x86_64"""
        kernel = "kernel-x86_64"

        def test_record_replay(self):
            self.run_record_replay()


    class Derived(Own):
        def test_more(self):
            pass
    ''')


def kinds(reference):
    resolution = ReplayTestResolver().resolve(reference)
    return resolution.result, {r.uri.split(":", 1)[1]: r.kind
                               for r in resolution.resolutions}


def test_the_suites_resolve_to_the_replay_kind():
    for suite, count in (("replay_kernel.py", 10), ("replay_linux.py", 5),
                         ("replay_firmware.py", 5)):
        result, found = kinds(str(ROOT / "tests" / "avocado" / suite))
        assert result == ReferenceResolutionResult.SUCCESS
        assert len(found) >= count
        assert set(found.values()) == {KIND}


def test_a_mixed_file_keeps_plain_tests_avocado_instrumented(tmp_path):
    path = tmp_path / "mixed.py"
    path.write_text(MIXED)
    result, found = kinds(str(path))
    assert result == ReferenceResolutionResult.SUCCESS
    assert found == {"Plain.test_plain": "avocado-instrumented",
                     "Own.test_record_replay": KIND,
                     "Derived.test_record_replay": KIND,
                     "Derived.test_more": KIND}


def test_tags_and_filters_are_avocados(tmp_path):
    path = tmp_path / "mixed.py"
    path.write_text(MIXED)
    resolution = ReplayTestResolver().resolve(f"{path}:Own")
    assert [r.uri.split(":", 1)[1] for r in resolution.resolutions] == [
        "Own.test_record_replay"]
    assert resolution.resolutions[0].tags == {"arch": {"x86_64"}}


def test_files_without_replay_tests_are_left_to_avocado(tmp_path):
    path = tmp_path / "plain.py"
    path.write_text(MIXED.split("class Own")[0])
    assert kinds(str(path))[0] == ReferenceResolutionResult.NOTFOUND
    assert kinds(str(tmp_path / "missing.py"))[0] \
        == ReferenceResolutionResult.NOTFOUND


class FakeClock:
    """monotonic and wait_for_message for the runner module only: waiting
    advances it to the next message or to the end of the wait.

    (Not for the time module: multiprocessing's queues wait with it.)
    """

    def __init__(self, queue, schedule):
        self.now = 0.0
        self.queue = queue
        #: (time, message) put on the queue when the clock reaches time
        self.schedule = sorted(schedule, key=lambda item: item[0])
        self.waits = 0

    def monotonic(self):
        return self.now

    def wait_for_message(self, queue, timeout, wake=None):
        self.waits += 1
        if queue.empty() and self.schedule:
            self.now = min(self.now + timeout, max(self.now,
                                                   self.schedule[0][0]))
        elif queue.empty():
            self.now += timeout
        while self.schedule and self.schedule[0][0] <= self.now:
            self.queue.put(self.schedule.pop(0)[1])
        return not queue.empty()


@pytest.fixture
def clocked(monkeypatch):
    def make(schedule):
        queue = multiprocessing.SimpleQueue()
        clock = FakeClock(queue, schedule)
        monkeypatch.setattr(runner, "monotonic", clock.monotonic)
        monkeypatch.setattr(runner, "wait_for_message",
                            clock.wait_for_message)
        return queue, clock
    return make


def is_running_message(message):
    return message.keys() == {"status", "time"} \
        and message["status"] == "running"


def test_monitor_forwards_messages_in_order_until_finished(clocked):
    log = {"type": "log", "log": b"x", "status": "running"}
    finished = {"status": "finished", "result": "pass"}
    queue, _ = clocked([(0.2, {"type": "early_state", "status": "started"}),
                        (0.2, log), (0.2, log), (0.3, finished),
                        (0.4, log)])
    forwarded = [message for message in ReplayTestRunner._monitor(queue)
                 if not is_running_message(message)]
    assert forwarded == [log, log, finished]


def test_monitor_says_running_at_avocados_status_pace(clocked):
    idle = 10.0
    queue, clock = clocked([(idle, {"status": "finished", "result": "pass"})])
    running = [message for message in ReplayTestRunner._monitor(queue)
               if is_running_message(message)]
    # Avocado 113's own runner would send idle / 0.01 = 1000 of them
    assert len(running) == pytest.approx(idle / RUNNER_RUN_STATUS_INTERVAL,
                                         abs=1)
    assert clock.now == idle
    # it slept between them instead of polling
    assert clock.waits == pytest.approx(len(running), abs=1)


def _send_later(queue, delay):
    time.sleep(delay)
    queue.put({"type": "log", "log": b"late", "status": "running"})
    queue.put({"status": "finished", "result": "pass"})


class CountingQueue:
    """A SimpleQueue that counts the runner's looks at it."""

    def __init__(self):
        self.queue = multiprocessing.SimpleQueue()
        self.looks = 0
        self._reader = self

    def poll(self, timeout):
        self.looks += 1
        return self.queue._reader.poll(timeout)

    def empty(self):
        self.looks += 1
        return self.queue.empty()

    def get(self):
        return self.queue.get()


def test_monitor_sleeps_on_a_real_queue_until_the_test_speaks():
    """A child process sends after a while: the runner wakes for it, and
    in between only at the status pace (Avocado's polls every 10 ms)."""
    queue = CountingQueue()
    child = multiprocessing.Process(target=_send_later,
                                    args=(queue.queue, 1.2))
    child.start()
    start = time.monotonic()
    try:
        got = list(ReplayTestRunner._monitor(queue))
    finally:
        elapsed = time.monotonic() - start
        child.join(10)
    assert [m.get("log") for m in got if not is_running_message(m)] == [
        b"late", None]
    running = sum(1 for m in got if is_running_message(m))
    assert 1 <= running <= 2 + elapsed / RUNNER_RUN_STATUS_INTERVAL
    # one look per "running" and per message
    assert queue.looks <= running + 2
