# Record/replay of Debian 12 kernel boots on many architectures.
#
# Each case records a kernel boot until a console line, replays it to the
# recorded instruction count and checks that the replay reproduced the
# console transcript and the icount totals (avocado_rr.testing.kernel).
#
# The kernels come from Debian packages (configs/assets.yaml); no initrd,
# so the boots end in the root-mount panic, just after the line waited for.
# The kernel command line is "printk.time=1 console=<the arch's serial>".
# Each case inherits its test, test_record_replay, from ReplayKernelTest.

import re

from avocado_rr.devices import RTC_ON_VM_CLOCK
from avocado_rr.testing.kernel import ReplayKernelTest
from avocado_rr.testing.known_failure import KnownFailure
from avocado_rr.testing.shared_failures import MALTA_RUNAWAY

#: the last lines before the root-mount panic of an initrd-less boot (the
#: first is x86's, the second the others'); the panic itself is a failure
#: pattern, and without panic=-1 the guest stays up after it to be stopped
ROOT_MOUNT = re.compile(r"VFS: Cannot open root device|"
                        r"No filesystem could mount root")


class X86_64Pc(ReplayKernelTest):
    """
    :avocado: tags=arch:x86_64,machine:pc
    """
    kernel = "kernel-x86_64"
    console_pattern = ROOT_MOUNT


class X86_64Q35(ReplayKernelTest):
    """
    :avocado: tags=arch:x86_64,machine:q35
    """
    kernel = "kernel-x86_64"
    console_pattern = ROOT_MOUNT


class X86_64Microvm(ReplayKernelTest):
    """
    :avocado: tags=arch:x86_64,machine:microvm
    """
    kernel = "kernel-x86_64"
    console_pattern = ROOT_MOUNT


class I386Pc(ReplayKernelTest):
    """
    :avocado: tags=arch:i386,machine:pc
    """
    kernel = "kernel-i386"
    console_pattern = ROOT_MOUNT


class I386Q35(ReplayKernelTest):
    """
    :avocado: tags=arch:i386,machine:q35
    """
    kernel = "kernel-i386"
    # the 686 kernel is slow under TCG: an early line keeps this case short
    console_pattern = "Kernel command line"


class Aarch64VirtCortexA57(ReplayKernelTest):
    """
    :avocado: tags=arch:aarch64,machine:virt,cpu:cortex-a57
    """
    kernel = "kernel-aarch64"
    console_pattern = ROOT_MOUNT
    shift = 5


class Aarch64VirtMax(ReplayKernelTest):
    """
    :avocado: tags=arch:aarch64,machine:virt,cpu:max
    """
    kernel = "kernel-aarch64"
    console_pattern = ROOT_MOUNT
    shift = 5


class Aarch64VirtCortexA53(ReplayKernelTest):
    """
    :avocado: tags=arch:aarch64,machine:virt,cpu:cortex-a53
    """
    kernel = "kernel-aarch64"
    console_pattern = "Kernel command line"
    shift = 5


class Aarch64VirtCortexA72(ReplayKernelTest):
    """
    :avocado: tags=arch:aarch64,machine:virt,cpu:cortex-a72
    """
    kernel = "kernel-aarch64"
    console_pattern = "Kernel command line"
    shift = 5


class ArmVirt(ReplayKernelTest):
    """
    :avocado: tags=arch:arm,machine:virt,cpu:cortex-a15
    """
    kernel = "kernel-armhf"
    console_pattern = ROOT_MOUNT
    shift = 5


class ArmVirtCortexA7(ReplayKernelTest):
    """
    :avocado: tags=arch:arm,machine:virt,cpu:cortex-a7
    """
    kernel = "kernel-armhf"
    console_pattern = "Kernel command line"
    shift = 5


class Ppc64Pseries(ReplayKernelTest):
    """
    :avocado: tags=arch:ppc64,machine:pseries
    """
    kernel = "kernel-ppc64el"
    # pseries powers off at once on a panic (RTAS os-term), so stop at the
    # last initcall line, about 90 virtual seconds before it
    console_pattern = "evm: HMAC attrs"
    # found by the state checkpoints: console and icount replay, the
    # guest's RAM does not, in one word (docs/findings.md)
    known_failure = KnownFailure(
        versions=((7, 2), (10, 0), (11, 1)), verdict="diverged",
        match="(registers equal; 1 RAM page(s) differ",
        reason="QEMU spapr (TCG) counts every entry and exit of the vCPU's "
               "execution loop in the VPA dispatch counter (guest RAM, VPA "
               "+ 0x100, hw/ppc/spapr.c spapr_cpu_exec_enter/exit); how "
               "often the loop is left depends on host events, which the "
               "log does not hold: the replay's counter differs from the "
               "recording's once the guest has registered its VPA")


class Ppc64Powernv(ReplayKernelTest):
    """
    :avocado: tags=arch:ppc64,machine:powernv
    """
    kernel = "kernel-ppc64el"
    console_pattern = "Kernel command line"
    memory = "1024"
    known_failure = KnownFailure(
        versions=((7, 2),), verdict="record-failed",
        match="Bad icount read",
        reason="QEMU 7.2 powernv: skiboot dies under rr=record with "
               "'Raised interrupt while not in I/O function', then 'Bad "
               "icount read', before Linux starts (seen on 7.2 only: 10.0 "
               "and 11.1 record and replay it, docs/findings.md)")


class S390xCcwVirtio(ReplayKernelTest):
    """
    :avocado: tags=arch:s390x,machine:s390-ccw-virtio
    """
    kernel = "kernel-s390x"
    console_pattern = ROOT_MOUNT
    # s390x's panic is a disabled wait, which QEMU's default panic action
    # turns into a shutdown right after the line waited for: pause instead,
    # so the recording can be stopped where the test means
    extra_args = ("-action", "panic=pause")
    known_failure = (
        KnownFailure(
            versions=((7, 2),), verdict="record-failed",
            match="Bad icount read",
            reason="QEMU 7.2 s390x stops a recording at once with 'Bad "
                   "icount read' (seen on 7.2 only: 10.0 and 11.1 record "
                   "and replay it, docs/findings.md)"),
        # found by the state checkpoints (docs/findings.md, section 6)
        KnownFailure(
            versions=((10, 0), (11, 1)), verdict="diverged",
            match="(registers equal; 1 RAM page(s) differ",
            reason="QEMU 10.0 and 11.1 s390x: console and icount replay, "
                   "but one RAM page (0x19a0000 on both; the lowcore at 0 "
                   "once) differs from the recording: 4 of 8 soak runs on "
                   "10.0, where replays of one log disagree with each "
                   "other (the replay is not deterministic); 3 of 6 on "
                   "11.1, same page",
            intermittent=True))


class Riscv64Virt(ReplayKernelTest):
    """
    Debian 13's kernel: riscv64 is an official Debian architecture from
    Debian 13 on (OpenSBI from the QEMU build under test boots it).

    :avocado: tags=arch:riscv64,machine:virt
    """
    kernel = "kernel-riscv64"
    console_pattern = ROOT_MOUNT
    shift = 5


class Mips64elMalta(ReplayKernelTest):
    """
    :avocado: tags=arch:mips64el,machine:malta,cpu:5KEc
    """
    kernel = "kernel-mips64el"
    console_pattern = ROOT_MOUNT
    memory = "256"
    shift = 5
    extra_args = RTC_ON_VM_CLOCK
    max_log_mb = 256
    known_failure = MALTA_RUNAWAY


class MipselMalta(ReplayKernelTest):
    """
    :avocado: tags=arch:mipsel,machine:malta
    """
    kernel = "kernel-mipsel"
    console_pattern = ROOT_MOUNT
    memory = "256"
    shift = 5
    extra_args = RTC_ON_VM_CLOCK
    max_log_mb = 256
    known_failure = MALTA_RUNAWAY
