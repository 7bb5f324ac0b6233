"""Record/replay of full Linux boots with disk, network and a config ISO.

A :class:`ReplayLinuxTest` boots a Debian kernel with the avocado-rr
initramfs (busybox, built from the asset catalogue), a NoCloud config ISO
whose user-data is the workload, a disk under ``blkreplay`` and user-mode
networking under ``filter-replay``.  The guest writes and reads back its
disk, fetches a file from an HTTP server the test runs on 127.0.0.1 (the
guest's 10.0.2.2), prints a marker per step and powers off::

    class X86_64Pc(ReplayLinuxTest):
        \"\"\"
        :avocado: tags=arch:x86_64,machine:pc
        \"\"\"
        def test_disk_net_iso(self):
            self.run_linux_record_replay()

The recording runs until the guest's last marker; the HTTP server is then
stopped and the replay must reproduce the same console and icount from the
log alone.  Beyond the engine's verdict (console, icounts), the test checks
that every marker came in both phases in order, that the values the guest
printed are the ones the host prepared (sha256 of the disk's first KiBs and
of the served file) and that the disk image was not modified.

The guest itself (inputs, devices, checks) is
:class:`avocado_rr.guest.linux.LinuxGuest`; this class is its Avocado
layer.  Device choices are class attributes, or parameters
(``-p``/yaml-to-mux) of the same name: ``disk_interface``,
``disk_format``, ``disk_syntax``, ``cdrom_device``, ``cdrom_mode``,
``net_tx``, ``rrsnapshot``, ``shift``.
"""

from __future__ import annotations

from avocado_rr import assets, seeking, targets
from avocado_rr.console import DEFAULT_FAILURE_PATTERNS
from avocado_rr.engine import RecordReplay
from avocado_rr.guest.linux import (APPEND, BUILD_ERRORS, FINAL_PATTERN,
                                    LinuxDevices, LinuxGuest)
from avocado_rr.pair import BootSpec, Recording
from avocado_rr.testing.kernel import ReplayTestBase
from avocado_rr.verdict import Verdict

_DEVICES = LinuxDevices()


class ReplayLinuxTest(ReplayTestBase):
    """Record a full boot with disk, network and ISO; replay; compare."""

    timeout = 300
    #: asset name or path of the kernel (default: the arch's row of
    #: :attr:`avocado_rr.targets.Target.kernel_asset`)
    kernel: str | None = None
    #: guest console (default: :attr:`avocado_rr.targets.Target.console`)
    console_device: str | None = None
    append: str = APPEND
    memory: str = "512"
    shift: int = 5
    #: devices (see :class:`avocado_rr.guest.linux.LinuxDevices`)
    disk_interface: str = _DEVICES.disk_interface
    disk_format: str = _DEVICES.disk_format
    #: "drive" (-drive snapshot=on) or "blockdev" (nodes over an overlay)
    disk_syntax: str = _DEVICES.disk_syntax
    cdrom_device: str = _DEVICES.cdrom_device
    #: "blkreplay" or "plain"
    cdrom_mode: str = _DEVICES.cdrom_mode
    #: virtio-net tx mode, "timer" or "bh"
    net_tx: str = _DEVICES.net_tx
    #: ``-icount rrsnapshot=`` name (None: no snapshot)
    rrsnapshot: str | None = _DEVICES.rrsnapshot
    extra_args: tuple[str, ...] = ()
    stall_timeout: float = 5.0
    failure_patterns = DEFAULT_FAILURE_PATTERNS

    guest: LinuxGuest | None = None

    def linux_devices(self) -> LinuxDevices:
        """The device choices: parameters, else class attributes."""
        choices = {name: self.param(name) for name in LinuxDevices.names()}
        choices["rrsnapshot"] = choices["rrsnapshot"] or None
        return LinuxDevices(**choices)

    def boot_spec(self) -> BootSpec:
        """The machine to record and replay (the guest must be prepared)."""
        return self.guest.boot_spec(
            self.qemu_machine or self.machine,
            self.console_device or targets.need(self.arch, "console"),
            cpu=self.cpu, append=self.append, shift=self.effective_shift(),
            memory=self.memory, extra_args=self.extra_args)

    # -- the pair -------------------------------------------------------
    def run_linux_record_replay(self, keep_log: bool = False
                                ) -> tuple[Verdict, Recording | None]:
        """Build the guest, record, stop the HTTP server, replay, judge;
        FAIL on a mismatch.

        The engine's pair (:meth:`RecordReplay.check`), with the guest's
        hooks between its phases and in its judgement
        (:meth:`LinuxGuest.between_phases`, :meth:`LinuxGuest.replay_checks`).

        :param keep_log: keep the replay log even if the pair passes (for
            more replays of it, e.g. :meth:`run_seek_check`)
        """
        self.guest = LinuxGuest(self.outputdir, self.arch,
                                self.linux_devices(), log=self.log)
        kernel = self.fetch(self.kernel or
                            targets.need(self.arch, "kernel_asset"))
        try:
            self.guest.prepare(assets.default_catalogue(), kernel)
            spec = self.boot_spec()
        except BUILD_ERRORS as details:
            self.guest.stop_server()
            self.error(f"could not prepare the guest: {details}")
        self.rr = RecordReplay(self.qemu, self.outputdir, log=self.log)
        self.guest.log_cmdline_features(spec)
        wall = max(self.timeout / 2 - 10, 10)
        try:
            verdict = self.check_pair(
                spec, FINAL_PATTERN, wall,
                between=self.guest.between_phases,
                extra_checks=self.guest.replay_checks)
        finally:
            self.guest.stop_server()
        self.conclude(verdict, keep_log=keep_log)
        return verdict, self.rr.recording

    # -- replay-seek ----------------------------------------------------
    def run_seek_check(self, recording: Recording,
                       fraction: float = 0.5) -> None:
        """Jump around a snapshotted recording with replay-break/-seek
        (:func:`avocado_rr.seeking.seek_check`); FAIL on any problem."""
        if not recording.spec.rrsnapshot:
            self.error("run_seek_check needs a recording with rrsnapshot")
        problems = seeking.seek_check(
            self.rr, recording, fraction,
            stall_timeout=max(self.stall_timeout, 10.0), log=self.log)
        if problems:
            self.fail("replay-seek: " + "; ".join(problems))
        self.log.info("replay-seek: break, forward and backward seeks "
                      "stopped at their icounts with the recorded console")
        self._discard_bulky_artifacts()

    def tearDown(self):
        if self.guest is not None:
            self.guest.stop_server()
        super().tearDown()


__all__ = ["FINAL_PATTERN", "ReplayLinuxTest"]
