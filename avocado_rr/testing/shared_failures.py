"""Known failures that cases of more than one suite share.

A known failure of the way QEMU records a machine hits every suite that
records it: the kernel cases and the reverse-debugging cases of a
machine boot the same kernel the same way.
"""

from avocado_rr.testing.known_failure import KnownFailure

#: QEMU 7.2 malta recordings intermittently run away before the kernel
#: prints anything: seen once with the RTC on the host clock (mipsel, 1.4 GB
#: of log in 145 s) and once with it on the virtual clock (mips64el, 1.1e9
#: CP_CLOCK_VIRTUAL checkpoints at a fixed icount: a virtual-timer livelock).
#: The test keeps running; a runaway is reported as a known failure.
MALTA_RUNAWAY = KnownFailure(
    versions=((7, 2),), verdict="record-failed", match="runaway recording",
    reason="QEMU 7.2 malta: recording intermittently livelocks in timer "
           "checkpoints before the kernel console comes up (seen on 7.2 "
           "only; docs/findings.md has its rate and the other versions)",
    intermittent=True)
