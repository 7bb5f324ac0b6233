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

from avocado_rr.testing.known_failure import KnownFailure
from avocado_rr.testing.reverse import ReverseDebugTest

#: QEMU's x86 TCG "vapic" (kvmvapic, the TPR-access optimisation for
#: Windows guests) restores its state on a snapshot load with run_on_cpu,
#: while the vCPU thread waits for the replay mutex the loading main
#: thread holds: a snapshot taken once the guest enabled it (every one
#: after the BIOS) deadlocks QEMU in replay (7.2 and 11.1; stack in
#: docs/findings.md).  Reverse execution loads snapshots: the x86 cases
#: run without the vapic (-global apic-common.vapic=off).
NO_VAPIC = ("-global", "apic-common.vapic=off")

#: QEMU 7.2 x86 (docs/findings.md, section 7)
EFLAGS_AFTER_REVERSE_STEP = KnownFailure(
    versions=((7, 2),), verdict="diverged", match="registers eflags",
    reason="after some reverse-stepi gdb reads arithmetic flags (SF, OF) "
           "in EFLAGS other than the forward stepi showed at the same "
           "icount, PC and every other register equal: QEMU's lazily "
           "computed x86 flags differ between a single-step stop and a "
           "replay-break stop after a snapshot load")


class X86_64Pc(ReverseDebugTest):
    """
    :avocado: tags=arch:x86_64,machine:pc,reverse
    """
    extra_args = NO_VAPIC
    known_failure = EFLAGS_AFTER_REVERSE_STEP


class I386Pc(ReverseDebugTest):
    """
    :avocado: tags=arch:i386,machine:pc,reverse
    """
    extra_args = NO_VAPIC
    known_failure = EFLAGS_AFTER_REVERSE_STEP


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
    known_failure = KnownFailure(
        versions=((7, 2),), verdict="aborted",
        match="Missing random event",
        reason="QEMU 7.2 pseries recorded with rrsnapshot does not start "
               "its replay: 'Missing random event in the replay log' as "
               "it loads the initial snapshot (docs/findings.md)")


class Riscv64Virt(ReverseDebugTest):
    """
    :avocado: tags=arch:riscv64,machine:virt,reverse
    """
    shift = 5

