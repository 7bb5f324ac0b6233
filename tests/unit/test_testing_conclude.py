"""ReplayTestBase.conclude: which passing pairs keep their replay log
(real Avocado test objects, a stand-in for the engine, no QEMU)."""

from pathlib import Path
from types import SimpleNamespace

import pytest
from avocado.core import exceptions

from avocado_rr.qemu_binary import QemuBinary
from avocado_rr.testing.kernel import ReplayKernelTest
from avocado_rr.testing.known_failure import KnownFailure
from avocado_rr.verdict import Verdict


class Kernel(ReplayKernelTest):
    """:avocado: tags=arch:x86_64,machine:pc"""


@pytest.fixture
def test(tmp_path):
    case = Kernel("setUp", base_logdir=str(tmp_path))
    case.arch, case.machine, case.cpu = "x86_64", "pc", None
    case.qemu = QemuBinary("x86_64", "/usr/bin/qemu-system-x86_64",
                           "QEMU emulator version 7.2.22", (7, 2, 22))
    case.keep_artifacts = False
    log = Path(case.outputdir) / "replay.bin"
    log.write_bytes(b"log")
    case.rr = SimpleNamespace(interrupted=None,
                              path=lambda name: str(Path(case.outputdir,
                                                         name)))
    case.replay_log = log
    return case


def test_a_pass_drops_its_log(test):
    test.conclude(Verdict("pass"))
    assert not test.replay_log.exists()


@pytest.mark.parametrize("keep_log,keep_artifacts", [
    (True, False), (False, True), (True, True)])
def test_keep_log_or_keep_artifacts_keep_it(test, keep_log,
                                             keep_artifacts):
    test.keep_artifacts = keep_artifacts
    test.conclude(Verdict("pass"), keep_log=keep_log)
    assert test.replay_log.exists()
    # the discard step is told, the test's setting is not swapped
    assert test.keep_artifacts is keep_artifacts


def test_an_intermittent_known_failure_that_passed_follows_keep_log(test):
    test.known_failure = KnownFailure(((7, 2),), "stalled", "x", "flaky",
                                      intermittent=True)
    test.conclude(Verdict("pass"), keep_log=True)
    assert test.replay_log.exists()
    test.conclude(Verdict("pass"))
    assert not test.replay_log.exists()


def test_a_failure_keeps_its_log(test):
    with pytest.raises(exceptions.TestFail, match="record/replay diverged"):
        test.conclude(Verdict("diverged", "console differs"))
    assert test.replay_log.exists()


def test_of_several_known_failures_the_one_for_the_version_applies(test):
    test.known_failure = (
        KnownFailure(((10, 0),), "aborted", "y", "another version's"),
        KnownFailure(((7, 2),), "stalled", "x", "this version's"))
    # the 7.2 one matches: a WARN, not a FAIL
    test.conclude(Verdict("stalled", "x"))
    with pytest.raises(exceptions.TestFail, match="known failure changed"):
        test.conclude(Verdict("aborted", "y"))
