# Reverse debugging over a replay of Debian 12 kernel boots.
#
# Each case records a kernel boot with a snapshot image (rrsnapshot) and
# nokaslr, replays and judges it like every kernel case, then drives the
# replay under gdb-multiarch from a breakpoint at kernel_init: 1000 stepi,
# 1000 reverse-stepi each equal to the forward pass at the same icount
# (PC and every register), the 1000 stepi again, reverse-continue to a
# breakpoint and to a watchpoint, each landing where the forward pass saw
# it (avocado_rr.testing.reverse, avocado_rr.reverse).
#
# The kernel's symbols come from its own kallsyms table
# (avocado_rr.ksyms): Debian ships no System.map in its image packages.
# s390x's table holds 32-bit offsets from its load address
# (avocado_rr.targets, kallsyms_base).

from avocado_rr.devices import RTC_ON_VM_CLOCK, X86_NO_VAPIC
from avocado_rr.testing.known_failure import KnownFailure
from avocado_rr.testing.reverse import ReverseDebugTest
from avocado_rr.testing.shared_failures import MALTA_RUNAWAY


def eflags_after_reverse_step(*versions: tuple[int, int]) -> KnownFailure:
    """docs/findings.md, section 7: seen on ``versions``."""
    return KnownFailure(
        versions=versions, verdict="diverged", match="registers eflags",
        reason="after some reverse-stepi gdb reads arithmetic flags (SF, "
               "OF) in EFLAGS other than the forward stepi showed at the "
               "same icount, PC and every other register equal: flags an "
               "instruction leaves undefined (bt) come out differently "
               "after a single step and after a replay from a snapshot "
               "(a new finding: not upstream's x86 #2922, reverse-continue "
               "jumping back)")


class X86_64Pc(ReverseDebugTest):
    """
    :avocado: tags=arch:x86_64,machine:pc,reverse
    """
    # reverse execution loads snapshots, which the TCG vapic deadlocks
    extra_args = X86_NO_VAPIC
    known_failure = (
        eflags_after_reverse_step((7, 2)),
        KnownFailure(
            versions=((10, 0),), verdict="diverged",
            match="did not stop after '-exec-continue'",
            reason="QEMU 10.0 x86_64: after a reverse-stepi (a snapshot "
                   "load in replay) a forward continue stalls at the next "
                   "timer checkpoint (CP_CLOCK_VIRTUAL, CP_CLOCK_HOST, "
                   "then the timer INTERRUPT), icount no longer advancing; "
                   "without a reverse step it runs on, and 7.2 and 11.1 do "
                   "both (a new finding, no upstream issue; "
                   "docs/findings.md, section 7)"))


class I386Pc(ReverseDebugTest):
    """
    :avocado: tags=arch:i386,machine:pc,reverse
    """
    # reverse execution loads snapshots, which the TCG vapic deadlocks
    extra_args = X86_NO_VAPIC
    known_failure = eflags_after_reverse_step((7, 2), (10, 0), (11, 1))


class Aarch64Virt(ReverseDebugTest):
    """
    :avocado: tags=arch:aarch64,machine:virt,cpu:cortex-a57,reverse
    """
    shift = 5


class ArmVirt(ReverseDebugTest):
    """
    :avocado: tags=arch:arm,machine:virt,cpu:cortex-a15,reverse
    """
    shift = 5


class Ppc64Pseries(ReverseDebugTest):
    """
    :avocado: tags=arch:ppc64,machine:pseries,reverse
    """
    known_failure = (
        KnownFailure(
            versions=((7, 2),), verdict="aborted",
            match="Missing random event",
            reason="QEMU 7.2 pseries recorded with rrsnapshot does not "
                   "start its replay: 'Missing random event in the replay "
                   "log' as it loads the initial snapshot (upstream "
                   "disables pseries reverse debugging, #1992; "
                   "docs/findings.md, section 7)"),
        KnownFailure(
            versions=((10, 0), (11, 1)), verdict="diverged",
            match="registers msr 0x8000000002009033 (expected "
                  "0x8000000002008033)",
            reason="pseries (10.0, 11.1): after a forward stepi gdb reads "
                   "MSR without ME (0x8000000002008033), after a reverse "
                   "stepi with it (0x8000000002009033), PC and every other "
                   "register equal (a new finding; upstream's pseries "
                   "#1992, a bogus PC, is another symptom; "
                   "docs/findings.md, section 7)"))


class S390xCcwVirtio(ReverseDebugTest):
    """
    :avocado: tags=arch:s390x,machine:s390-ccw-virtio,reverse
    """
    # as the kernel case: pause at a panic, do not shut down
    extra_args = ("-action", "panic=pause")
    known_failure = KnownFailure(
        versions=((7, 2),), verdict="record-failed", match="Bad icount read",
        reason="QEMU 7.2 s390x stops a recording at once with 'Bad icount "
               "read', as the kernel case does (upstream's s390x reverse "
               "test arrived in 11.0 with a replay fix; docs/findings.md)")


class Riscv64Virt(ReverseDebugTest):
    """
    :avocado: tags=arch:riscv64,machine:virt,reverse
    """
    shift = 5
    known_failure = KnownFailure(
        versions=((7, 2), (10, 0)), verdict="diverged",
        match="reverse debugging check failed: reverse-stepi 1 from",
        reason="riscv64 (7.2, 10.0): the first reverse-stepi from the "
               "window's end, a replay from the snapshot at kernel_init, "
               "lands in another function (hrtimer_try_to_cancel instead "
               "of rb_next) with other registers: the replay from a "
               "snapshot does not retrace the forward run; 11.1 does "
               "(a new finding, fixed by 11.1; upstream tests riscv64 "
               "reverse debugging on newer QEMU only; docs/findings.md, "
               "section 7)")



class Mips64elMalta(ReverseDebugTest):
    """
    :avocado: tags=arch:mips64el,machine:malta,cpu:5KEc,reverse
    """
    memory = "256"
    shift = 5
    extra_args = RTC_ON_VM_CLOCK
    # a 7.2 runaway is told at 256 MB of log, as in the kernel cases
    max_log_mb = 256
    known_failure = MALTA_RUNAWAY


class MipselMalta(ReverseDebugTest):
    """
    :avocado: tags=arch:mipsel,machine:malta,reverse
    """
    memory = "256"
    shift = 5
    extra_args = RTC_ON_VM_CLOCK
    # a 7.2 runaway is told at 256 MB of log, as in the kernel cases
    max_log_mb = 256
    known_failure = MALTA_RUNAWAY
