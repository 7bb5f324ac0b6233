"""Which verdicts a KnownFailure accepts, on which QEMU versions."""

from avocado_rr.targets import QemuBinary
from avocado_rr.testing.known_failure import KnownFailure
from avocado_rr.verdict import ReplayError, Verdict

S390X = KnownFailure(versions=((7, 2),), verdict="record-failed",
                     match="Bad icount read", reason="7.2 s390x bug")


def qemu(version):
    return QemuBinary("s390x", "/usr/bin/qemu-system-s390x",
                      f"QEMU emulator version {version}",
                      tuple(int(p) for p in version.split(".")))


def test_applies_to_listed_versions_only():
    assert S390X.applies_to(qemu("7.2.22"))
    assert not S390X.applies_to(qemu("8.2.0"))
    assert not S390X.applies_to(qemu("7.1.0"))


def test_matches_verdict_and_text():
    assert S390X.matches(Verdict("record-failed", "QEMU exited with 1 while "
                                 "recording: 'qemu: Bad icount read'"))
    assert not S390X.matches(Verdict("record-failed", "pattern timeout"))
    assert not S390X.matches(Verdict("diverged", "Bad icount read"))
    assert not S390X.matches(Verdict("pass"))


def test_match_text_may_come_from_the_replay_error():
    known = KnownFailure(((7, 2),), "diverged", "Missing character write",
                         "reason")
    verdict = Verdict("diverged", "QEMU: ...", replay_error=ReplayError(
        "qemu: Missing character write event in the replay log"))
    assert known.matches(verdict)


def test_intermittent_is_off_by_default():
    assert S390X.intermittent is False
    assert KnownFailure(((7, 2),), "stalled", "x", "y",
                        intermittent=True).intermittent
