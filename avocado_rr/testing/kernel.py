"""Avocado test base classes for QEMU record/replay.

A kernel record/replay test is a subclass that names what to boot; it
inherits its test, ``test_record_replay``, which calls
:meth:`ReplayKernelTest.run_record_replay`::

    class X86_64Pc(ReplayKernelTest):
        \"\"\"
        :avocado: tags=arch:x86_64,machine:pc
        \"\"\"
        kernel = "kernel-x86_64"
        console_pattern = "Kernel command line"

The work is done by :class:`avocado_rr.engine.RecordReplay`; this class
only adds Avocado's parameters, logging, assets and status mapping.

Parameters (``-p`` or yaml-to-mux): ``qemu_bin``, ``qemu_build_dir``,
``qemu_version`` (Debian's build of that QEMU, from the asset cache),
``icount_shift``, ``shift``, ``stall_timeout``, ``keep_artifacts`` (keep
the replay log of a passing test), ``debug_flags``, ``arch``, ``machine``,
``cpu``, ``rrsnapshot`` (record with ``-icount rrsnapshot=NAME``).
:meth:`ReplayTestBase.param` reads each of them: the test parameter, else
the class attribute, else the unique ``arch:``/``machine:``/``cpu:`` tag
value, else the ``[replay]`` setting (``AVOCADO_RR_*``), else the default
(:mod:`avocado_rr.testing.params`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import time
from typing import Any

from avocado import Test
from avocado.core.exceptions import TestInterrupt

from avocado_rr import assets, devices, settings, targets
from avocado_rr.console import DEFAULT_FAILURE_PATTERNS
from avocado_rr.engine import RecordReplay
from avocado_rr.pair import RRFILE, BootSpec
from avocado_rr.qemu_binary import QemuNotFound, find_qemu, machine_names
from avocado_rr.repeat import with_replays
from avocado_rr.statecheck import DEFAULT_EVERY, CheckpointPlan
from avocado_rr.testing import params
from avocado_rr.testing.known_failure import KnownFailure
from avocado_rr.verdict import Verdict, VerdictKind


class ReplayTestBase(Test):
    """What every record/replay test needs: QEMU, assets, artifacts."""

    timeout = 300
    arch: str | None = None
    machine: str | None = None
    #: the machine's other names in other QEMU releases (hppa's B160L
    #: was "hppa" up to 8.1): the first the QEMU under test knows is used
    machine_aliases: tuple[str, ...] = ()
    #: the machine's name in the QEMU under test, set by setUp (None:
    #: ``machine``, which stays the case's name for its results)
    qemu_machine: str | None = None
    cpu: str | None = None
    #: a QEMU bug this case hits, or several (each for its own versions)
    known_failure: KnownFailure | tuple[KnownFailure, ...] | None = None
    #: state checkpoints per 10 s of recording (0: none), compared by the
    #: replay: a replay that differs in state fails, and every failure
    #: says where it first differed (:mod:`avocado_rr.statecheck`)
    checkpoints: float = 10.0 / DEFAULT_EVERY
    #: replays of each recording, compared with each other
    replays: int = 1
    #: trace the phases' event streams (QEMU 11.1+, costs ~20 %)
    event_trace: bool = False

    def checkpoint_plan(self) -> CheckpointPlan | None:
        """The recording's state checkpoints (the ``checkpoints``
        parameter), None when off."""
        count = self.param("checkpoints", float)
        return CheckpointPlan.per_10s(count) if count > 0 else None

    def check_pair(self, spec: BootSpec, pattern, timeout: float,
                   **hooks) -> Verdict:
        """The engine's pair with the test's checkpoints, stall timeout,
        progress log and repeated replays (``replays``)."""
        if self.param("event_trace", bool):
            spec = dataclasses.replace(spec, event_trace=True)
        stall = self.param("stall_timeout", float)
        verdict = self.rr.check(
            spec, pattern, self.failure_patterns, timeout=timeout,
            stall_timeout=stall, progress=self._log_progress,
            checkpoints=self.checkpoint_plan(), **hooks)
        if self.rr.recording is not None and not self.rr.interrupted:
            verdict = with_replays(self.rr, self.rr.recording, verdict,
                                   self.param("replays", int), timeout,
                                   stall)
        return verdict

    def param(self, name: str, kind: type = str, default: Any = None, *,
              setting: bool = True) -> Any:
        """Test parameter ``name`` as a ``kind``; the one reader of them.

        The first of: the test parameter (``-p``, yaml-to-mux), the test
        class's attribute, the unique ``arch:``/``machine:``/``cpu:`` tag
        value, the harness setting (``AVOCADO_RR_*``), the default (see
        :mod:`avocado_rr.testing.params`).  A bad value is a test ERROR
        that names the parameter, where the value came from and the value.

        :param default: when nothing sets ``name``; None: the base
            classes' attribute
        :param setting: False when another reader applies the setting
        """
        try:
            return params.read(self, name, kind, default, setting)
        except params.ParamError as details:
            self.error(str(details))

    def effective_shift(self) -> int:
        """``-icount shift``: the ``icount_shift`` parameter or setting
        (for every test of a job), else the test's own ``shift``."""
        shift = self.param("icount_shift", int)
        return shift if shift is not None else self.param("shift", int)

    def _cancel_foreign_variant(self) -> None:
        """CANCEL a mux variant meant for another case (matrix files).

        A variant of configs/matrix.yaml names one (arch, machine[, cpu])
        cell; a test pinned to another cell by its class attributes or
        tags does not run under it (QEMU's avocado_qemu cancelled a test
        whose arch did not match the same way).
        """
        for key in ("arch", "machine", "cpu"):
            found: dict[str, object] = {}
            for source in params.sources(self, key, setting=False):
                found.setdefault(source.origin, source.raw)
            wanted = found.get("parameter")
            own = found.get("attribute") or found.get("tag")
            if wanted is not None and own is not None and str(wanted) != own:
                self.cancel(f"variant {self.name.variant} is for "
                            f"{key}:{wanted}; this test is {key}:{own}")

    def setUp(self):
        self._started = time.monotonic()
        self._concluded = False
        self.rr: RecordReplay | None = None
        self._cancel_foreign_variant()
        self.arch = self.param("arch")
        self.machine = self.param("machine")
        self.cpu = self.param("cpu")
        if not self.arch or not self.machine:
            self.error(f"{type(self).__name__} names no arch/machine "
                       f"(class attributes, parameters or tags)")
        try:
            # find_qemu applies the AVOCADO_RR_QEMU_* settings itself
            self.qemu = find_qemu(
                self.arch, self.param("qemu_bin", setting=False),
                self.param("qemu_build_dir", setting=False),
                self.param("qemu_version", setting=False))
        except QemuNotFound as details:
            # not a CANCEL: a suite that cannot find its QEMU tested nothing
            self.error(str(details))
        self.log.info("QEMU under test: %s (%s)", self.qemu.path,
                      self.qemu.version_line)
        if self.machine_aliases:
            self.qemu_machine = self._machine_this_qemu_knows()
        self.keep_artifacts = self.param("keep_artifacts", bool,
                                         default=False)

    def _machine_this_qemu_knows(self) -> str:
        """``machine``, or the first of its aliases the QEMU under test
        knows; an ERROR naming them all when it knows none."""
        try:
            known = machine_names(self.qemu.path)
        except QemuNotFound as details:
            self.error(str(details))
        for name in (self.machine,) + tuple(self.machine_aliases):
            if name in known:
                if name != self.machine:
                    self.log.info("machine %s is %r in this QEMU",
                                  self.machine, name)
                return name
        self.error(f"{self.qemu.path} knows no machine "
                   f"{' or '.join((self.machine,) + self.machine_aliases)}")

    def fetch(self, name_or_path: str | None) -> str | None:
        """A verified local path for a catalogue asset (or a plain path)."""
        if not name_or_path:
            return None
        offline = settings.get_bool("offline")
        try:
            if offline and not os.path.exists(name_or_path):
                path = assets.default_catalogue().verify(name_or_path)
            else:
                path = assets.resolve_asset(name_or_path)
        except assets.AssetError as details:
            # an ERROR before any QEMU starts; the message names the
            # asset and the command that fixes it
            self.error(f"{details}" + (" (offline run: nothing is "
                                       "downloaded; 'make assets' fetches "
                                       "every asset)" if offline else ""))
        self.log.info("asset %s: %s", name_or_path, path)
        return os.fspath(path)

    def tearDown(self):
        # Runs even after a timeout, possibly while the test thread still
        # drives QEMU: kill it first, then the artifacts are final.
        if getattr(self, "rr", None) is not None:
            if not getattr(self, "_concluded", True):
                self._interrupted()
            self.rr.close()

    def _interrupted(self) -> None:
        """The test body never concluded: Avocado's timeout (or a signal)
        ended it.  Stop QEMU and keep a verdict of where the pair was."""
        elapsed = time.monotonic() - self._started
        if elapsed >= float(self.timeout) - 1:
            why, kind = (f"Avocado's test timeout ({float(self.timeout):g}s)"
                         f" was reached", VerdictKind.TIMEOUT)
        else:
            why, kind = "the test was interrupted", VerdictKind.ABORTED
        verdict = self.rr.interrupt(why, kind)
        if verdict is not None:
            self._publish(verdict)

    def _log_progress(self, icount: int, target: int) -> None:
        """Log replay progress at every tenth of the recorded icount."""
        step = int(10 * icount / target) if target else 0
        if step > getattr(self, "_progress_step", -1):
            self._progress_step = step
            self.log.info("replay progress: %d%% (icount %d of %d)",
                          100 * icount // max(target, 1), icount, target)

    def _publish(self, verdict: Verdict) -> None:
        """The verdict into the whiteboard and the log."""
        data = verdict.to_dict()
        data.update(arch=self.arch, machine=self.machine, cpu=self.cpu,
                    qemu=self.qemu.path)
        self.whiteboard = json.dumps(data, default=str)
        for line in verdict.summary().splitlines():
            self.log.info(line)

    def conclude(self, verdict: Verdict, keep_log: bool = False) -> None:
        """Log the verdict and turn it into the test's status.

        :param keep_log: keep the replay log even if the pair passes (for
            more replays of it)
        """
        if self.rr is not None and self.rr.interrupted:
            # the test thread outlived Avocado's timeout: tearDown has
            # said where the pair was; returning would let Avocado mark
            # the interrupted test PASS
            raise TestInterrupt(self.rr.interrupted)
        self._concluded = True
        self._publish(verdict)
        if verdict.record_time is not None:
            self.log.info("record %.2fs, replay %s, overhead %s, icount %s, "
                          "log %s bytes", verdict.record_time,
                          _fmt(verdict.replay_time, "{:.2f}s"),
                          _fmt(verdict.overhead, "{:.2f}x"),
                          verdict.recorded_icount, verdict.log_size)
        known = self._known_failure()
        if known is not None:
            self._conclude_known_failure(known, verdict, keep_log)
            return
        if verdict.passed:
            self._discard_bulky_artifacts(keep_log)
            return
        self.fail(f"record/replay {verdict.verdict}: {verdict.reason}")

    def _known_failure(self) -> KnownFailure | None:
        """The declared known failure for the QEMU under test, if any."""
        declared = self.known_failure
        if isinstance(declared, KnownFailure):
            declared = (declared,)
        return next((known for known in declared or ()
                     if known.applies_to(self.qemu)), None)

    def _conclude_known_failure(self, known: KnownFailure,
                                verdict: Verdict, keep_log: bool) -> None:
        if known.matches(verdict):
            # a WARN: visible in the results, not a red job
            self.log.warning("KNOWN FAILURE on QEMU %s reproduced (%s): %s",
                             self.qemu.version_string, known.reason,
                             verdict.reason)
            return
        if verdict.passed and known.intermittent:
            self.log.info("intermittent known failure (%s) did not happen "
                          "this time", known.reason)
            self._discard_bulky_artifacts(keep_log)
            return
        if verdict.passed:
            self.fail(f"known failure did not happen on QEMU "
                      f"{self.qemu.version_string}: expected {known.verdict} "
                      f"matching {known.match!r} ({known.reason}); the bug "
                      f"may be fixed: update the test's known_failure")
        self.fail(f"known failure changed on QEMU {self.qemu.version_string}:"
                  f" expected {known.verdict} matching {known.match!r}, got "
                  f"{verdict.verdict}: {verdict.reason}")

    def _discard_bulky_artifacts(self, keep_log: bool = False) -> None:
        """Remove a passing pair's replay log, unless ``keep_log`` or the
        ``keep_artifacts`` parameter keep it."""
        if keep_log or self.keep_artifacts or self.rr is None:
            return
        rrfile = self.rr.path(RRFILE)
        if os.path.exists(rrfile):
            os.unlink(rrfile)
            self.log.info("passed: removed %s (keep_artifacts=1 keeps it)",
                          rrfile)


def _fmt(value, spec: str) -> str:
    return "-" if value is None else spec.format(value)


class KernelBoot(ReplayTestBase):
    """A kernel boot to record and replay: what to boot, how to judge,
    and no test method of its own (:class:`ReplayKernelTest` and
    :class:`avocado_rr.testing.reverse.ReverseDebugTest` add theirs).

    :avocado: disable
    """

    #: pytest collects unittest.TestCase subclasses with test methods;
    #: these are Avocado's tests
    __test__ = False

    #: asset name (configs/assets.yaml) or path of the kernel
    kernel: str | None = None
    initrd: str | None = None
    dtb: str | None = None
    #: kernel command line (default: ``printk.time=1 console=<the arch's
    #: console>``, its :attr:`avocado_rr.targets.Target.console`)
    append: str | None = None
    #: the console line that ends the recording (substring or compiled re)
    console_pattern: str | re.Pattern = "Kernel command line"
    failure_patterns = DEFAULT_FAILURE_PATTERNS
    #: ``-icount shift=``
    shift: int = 7
    memory: str = "512"
    extra_args: tuple[str, ...] = ()
    #: seconds without icount progress before a replay counts as stalled
    stall_timeout: float = 5.0
    #: a recording whose log outgrows this before the pattern is runaway
    max_log_mb: int = 1024
    #: QEMU ``-d`` items and ``-trace`` event patterns for both phases; a
    #: failed pair's report then shows where the traces part
    debug_flags: str | None = None
    trace_events: tuple[str, ...] = ()
    #: ``-icount rrsnapshot=`` name: the recording saves a VM snapshot at
    #: its start into an empty qcow2 drive of the test's own, the replay
    #: loads it (what replay-seek and reverse debugging need); None: none
    rrsnapshot: str | None = None

    def boot_spec(self) -> BootSpec:
        """The machine to record and replay, from attributes and params."""
        rrsnapshot = self.param("rrsnapshot") or None
        extra_args = list(self.extra_args)
        if rrsnapshot:
            try:
                extra_args = devices.rrsnapshot_drive(
                    os.path.join(self.outputdir, "rrsnapshot.qcow2")
                ) + extra_args
            except devices.DeviceError as details:
                self.error(f"could not make the rrsnapshot drive: "
                           f"{details}")
        return BootSpec(
            arch=self.arch, machine=self.qemu_machine or self.machine,
            cpu=self.cpu,
            kernel=self.fetch(self.kernel_asset()),
            initrd=self.fetch(self.initrd),
            dtb=self.fetch(self.dtb), append=self.kernel_command_line(),
            bios=self.firmware_path(), shift=self.effective_shift(),
            memory=str(self.memory), extra_args=extra_args,
            debug_flags=self.param("debug_flags"),
            trace=list(self.trace_events), rrsnapshot=rrsnapshot)

    def firmware_path(self) -> str | None:
        """The ``-bios`` image; None: the machine's default firmware
        (:class:`avocado_rr.testing.firmware.ReplayFirmwareTest` names
        one)."""
        return None

    def kernel_command_line(self) -> str:
        """``append``, or timestamps and the arch's serial console."""
        if self.append is not None:
            return self.append
        return f"printk.time=1 console={targets.need(self.arch, 'console')}"

    def kernel_asset(self) -> str:
        """``kernel``, else the arch's kernel in the target table."""
        if self.kernel:
            return self.kernel
        try:
            return targets.need(self.arch, "kernel_asset")
        except targets.TargetError as details:
            self.error(f"{type(self).__name__} names no kernel: {details}")

    def record_and_replay(self) -> Verdict:
        """Record, replay, judge: the verdict, not yet concluded."""
        spec = self.boot_spec()
        self.rr = RecordReplay(self.qemu, self.outputdir, log=self.log)
        wall = max(self.timeout / 2 - 5, 10)
        return self.check_pair(spec, self.console_pattern, wall,
                               max_log_bytes=int(self.max_log_mb) << 20)

    def run_record_replay(self) -> Verdict:
        """Record, replay, judge; FAIL with the reason on any mismatch."""
        verdict = self.record_and_replay()
        self.conclude(verdict)
        return verdict


class ReplayKernelTest(KernelBoot):
    """Record a kernel boot up to a console line, replay it, compare.

    A case only names what to boot: :meth:`test_record_replay` is
    inherited.  This base is no test itself (``avocado list`` of this
    file shows nothing; pytest does not collect it, nor a case).

    :avocado: disable
    """

    #: pytest collects unittest.TestCase subclasses with test methods;
    #: these are Avocado's tests
    __test__ = False

    def test_record_replay(self):
        """Record the boot, replay it, judge the pair."""
        self.run_record_replay()
