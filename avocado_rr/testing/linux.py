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

Device choices are class attributes, or parameters (``-p``/yaml-to-mux) of
the same name: ``disk_interface``, ``disk_format``, ``disk_syntax``,
``cdrom_device``, ``cdrom_mode``, ``net_tx``, ``rrsnapshot``, ``shift``.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket

from avocado_rr import assets, devices, seeking, targets
from avocado_rr.console import DEFAULT_FAILURE_PATTERNS, read_transcript
from avocado_rr.download import sha256_file
from avocado_rr.engine import RecordReplay
from avocado_rr.guest import cidata, initramfs, markers
from avocado_rr.httpserve import FileServer, payload
from avocado_rr.pair import BootSpec, Recording, ReplayOutcome
from avocado_rr.testing.kernel import ReplayTestBase
from avocado_rr.verdict import Check, Verdict, VerdictKind

DISK_SIZE = 64 << 20
DISK_KIB = 256
#: the first DISK_KIB KiB of the disk image, the guest hashes them
DISK_HEAD = (b"avocado-rr disk image\n" * 12000)[:DISK_KIB * 1024]
HTTP_PATH = "/payload.bin"

#: the record ends at the guest's last marker (it stays up after it)
FINAL_PATTERN = markers.PREFIX + markers.FINAL


class ReplayLinuxTest(ReplayTestBase):
    """Record a full boot with disk, network and ISO; replay; compare."""

    timeout = 300
    #: asset name or path of the kernel (default: the arch's kernel asset,
    #: :attr:`avocado_rr.targets.Target.kernel_asset`)
    kernel: str | None = None
    #: guest console (default: the arch's,
    #: :attr:`avocado_rr.targets.Target.console`)
    console_device: str | None = None
    append: str = "printk.time=1 panic=-1"
    memory: str = "512"
    shift: int = 5
    #: devices (see :mod:`avocado_rr.devices`)
    disk_interface: str = "virtio"
    disk_format: str = "qcow2"
    #: "drive" (-drive snapshot=on) or "blockdev" (nodes over an overlay)
    disk_syntax: str = "drive"
    cdrom_device: str = "ide-cd"
    #: "blkreplay" or "plain"
    cdrom_mode: str = "blkreplay"
    #: virtio-net tx mode, "timer" or "bh"
    net_tx: str = "timer"
    #: ``-icount rrsnapshot=`` name (None: no snapshot)
    rrsnapshot: str | None = None
    extra_args: tuple[str, ...] = ()
    stall_timeout: float = 5.0
    failure_patterns = DEFAULT_FAILURE_PATTERNS

    # -- inputs ---------------------------------------------------------
    def prepare_inputs(self) -> None:
        """Initramfs, disk image, served file and config ISO.

        Everything lands in the output directory (the initramfs is cached
        by content hash and referenced); ``inputs.json`` lists the hashes.
        """
        out = self.outputdir
        catalogue = assets.default_catalogue()
        self.kernel_path = self.fetch(self.kernel or
                                      targets.need(self.arch, "kernel_asset"))
        self.initrd = os.fspath(initramfs.build_initramfs_for(catalogue,
                                                              self.arch))
        self.log.info("initramfs %s (sha256 %s)", self.initrd,
                      sha256_file(self.initrd))
        self.disk_format = self.param("disk_format")
        self.disk_image = os.path.join(out, f"disk.{self.disk_format}")
        devices.make_disk_image(self.disk_image, DISK_HEAD, DISK_SIZE,
                                self.disk_format)
        self.disk_sha256 = sha256_file(self.disk_image)
        self.log.info("disk image %s (sha256 %s)", self.disk_image,
                      self.disk_sha256)
        self.http_body = payload()
        self.server = FileServer({HTTP_PATH: self.http_body}).start()
        self.log.info("HTTP server on 127.0.0.1:%d serves %s (sha256 %s, "
                      "%d bytes)", self.server.port, HTTP_PATH,
                      hashlib.sha256(self.http_body).hexdigest(),
                      len(self.http_body))
        self.guest_disk = devices.GUEST_DISK[self.param("disk_interface")]
        self.user_data = cidata.workload_user_data(
            disk=self.guest_disk, disk_kib=DISK_KIB,
            http_port=self.server.port, http_path=HTTP_PATH)
        with open(os.path.join(out, "user-data"), "w",
                  encoding="utf-8") as user_data:
            user_data.write(self.user_data)
        self.iso = os.fspath(cidata.make_cidata_iso(
            os.path.join(out, "cidata.iso"), self.user_data))
        self.log.info("config ISO %s (sha256 %s), user-data:\n%s", self.iso,
                      sha256_file(self.iso), self.user_data)
        inputs = {"kernel": self.kernel_path,
                  "kernel_sha256": sha256_file(self.kernel_path),
                  "initramfs": self.initrd,
                  "initramfs_sha256": sha256_file(self.initrd),
                  "disk_image": self.disk_image,
                  "disk_sha256": self.disk_sha256,
                  "iso": self.iso, "iso_sha256": sha256_file(self.iso),
                  "http_sha256": hashlib.sha256(self.http_body).hexdigest(),
                  "http_port": self.server.port}
        with open(os.path.join(out, "inputs.json"), "w",
                  encoding="utf-8") as data:
            json.dump(inputs, data, indent=2)

    def device_args(self) -> list[str]:
        """The QEMU arguments of the disk, cdrom, network (and snapshot)."""
        args: list[str] = []
        interface = self.param("disk_interface")
        cdrom_device = self.param("cdrom_device")
        if "scsi" in (interface, cdrom_device.split("-")[0]):
            args += devices.scsi_controller_args()
        overlay = None
        if self.uses_overlay:
            overlay = self.overlay_path()
            devices.make_overlay(self.disk_image, overlay, self.disk_format)
        args += devices.disk_args(self.disk_image, self.disk_format,
                                  interface, self.param("disk_syntax"),
                                  overlay)
        args += devices.cdrom_args(self.iso, cdrom_device,
                                   self.param("cdrom_mode"))
        args += devices.net_args(self.param("net_tx"))
        if self.param("rrsnapshot"):
            snap = os.path.join(self.outputdir, "rrsnapshot.qcow2")
            devices.make_empty_qcow2(snap)
            args += devices.rrsnapshot_drive_args(snap)
        return args + list(self.extra_args)

    @property
    def uses_overlay(self) -> bool:
        """-blockdev has no snapshot=on; rrsnapshot needs a lasting disk."""
        return (self.param("disk_syntax") == "blockdev" or
                bool(self.param("rrsnapshot")))

    def overlay_path(self) -> str:
        return os.path.join(self.outputdir, "disk-overlay.qcow2")

    def boot_spec(self) -> BootSpec:
        console = self.console_device or targets.need(self.arch, "console")
        return BootSpec(
            arch=self.arch, machine=self.machine, cpu=self.cpu,
            kernel=self.kernel_path, initrd=self.initrd,
            append=f"{self.append} console={console}",
            shift=self.effective_shift(),
            memory=str(self.memory), extra_args=self.device_args(),
            net_none=False, rrsnapshot=self.param("rrsnapshot") or None)

    def expected_markers(self):
        return markers.expected_markers(
            disk=self.guest_disk, disk_head=DISK_HEAD, disk_kib=DISK_KIB,
            http_body=self.http_body)

    # -- the pair -------------------------------------------------------
    def run_linux_record_replay(self, keep_log: bool = False
                                ) -> tuple[Verdict, Recording | None]:
        """Record, stop the HTTP server, replay, judge; FAIL on a mismatch.

        The engine's pair (:meth:`RecordReplay.check`), with the Linux
        layer between its phases (:meth:`_between_phases`) and in its
        judgement (:meth:`_replay_checks`).

        :param keep_log: keep the replay log even if the pair passes (for
            more replays of it, e.g. :meth:`run_seek_check`)
        """
        self.server = None
        try:
            self.prepare_inputs()
            spec = self.boot_spec()
        except (assets.AssetError, initramfs.InitramfsError,
                devices.DeviceError, cidata.CidataError) as details:
            self._stop_server()
            self.error(f"could not prepare the guest: {details}")
        self.rr = RecordReplay(self.qemu, self.outputdir, log=self.log)
        self._log_cmdline_features(spec)
        wall = max(self.timeout / 2 - 10, 10)
        try:
            verdict = self.rr.check(
                spec, FINAL_PATTERN, self.failure_patterns, timeout=wall,
                stall_timeout=self.param("stall_timeout", float),
                progress=self._log_progress, between=self._between_phases,
                extra_checks=self._replay_checks)
        finally:
            self._stop_server()
        keep, self.keep_artifacts = self.keep_artifacts, (
            self.keep_artifacts or keep_log)
        try:
            self.conclude(verdict)
        finally:
            self.keep_artifacts = keep
        return verdict, self.rr.recording

    def _stop_server(self) -> None:
        server, self.server = getattr(self, "server", None), None
        if server is not None:
            port = server.port
            server.stop()
            try:
                socket.create_connection(("127.0.0.1", port), 2).close()
                state = "still accepts connections (another process?)"
            except OSError as details:
                state = f"refuses connections ({details.strerror})"
            self.log.info("HTTP server stopped after answering %s; "
                          "127.0.0.1:%d %s", server.requests, port, state)

    def _between_phases(self, recording: Recording) -> Verdict | None:
        """After the recording: stop the HTTP server (the replay must do
        without it), check the recorded workload, restore the disk; a
        ``record-failed`` verdict when the workload went wrong."""
        self._stop_server()
        expected = self.expected_markers()
        problem = markers.check_markers(recording.recorded_console(),
                                        expected)
        image_ok = sha256_file(self.disk_image) == self.disk_sha256
        if problem or not image_ok:
            reason = (f"the recorded workload went wrong: {problem}"
                      if problem else
                      f"the disk image {self.disk_image} was modified by "
                      f"the recording")
            return Verdict(VerdictKind.RECORD_FAILED, reason,
                           recorded_icount=recording.icount,
                           record_time=recording.record_time,
                           qemu_version=self.qemu.version_line)
        self.log.info("recording: all %d markers in order; the guest "
                      "read the disk and HTTP values the host prepared",
                      len(expected))
        if self.uses_overlay and not self.param("rrsnapshot"):
            # the replay must start from the recorded disk state (with
            # rrsnapshot the snapshot in the overlay restores it)
            devices.make_overlay(self.disk_image, self.overlay_path(),
                                 self.disk_format)
        return None

    def _replay_checks(self, recording: Recording,
                       outcome: ReplayOutcome) -> list[Check]:
        """The Linux checks of a replay, judged with the engine's: every
        marker in order, the disk image unchanged."""
        expected = self.expected_markers()
        problem = markers.check_markers(read_transcript(outcome.console),
                                        expected)
        image_ok = sha256_file(self.disk_image) == self.disk_sha256
        return [Check("markers", problem is None,
                      problem or f"all {len(expected)} markers in order"),
                Check("disk image", image_ok,
                      f"sha256 {'unchanged' if image_ok else 'changed'} "
                      f"after both phases")]


    def _log_cmdline_features(self, spec: BootSpec) -> None:
        """Say which record/replay devices the command lines carry."""
        line = " ".join(spec.qemu_args())
        features = {
            "blkreplay node": "driver=blkreplay",
            "disk snapshot=on": "snapshot=on",
            "cdrom ISO": f"file={self.iso},format=raw,if=none,media=cdrom",
            "filter-replay": "filter-replay,",
            "virtio-net tx mode": f"tx={self.param('net_tx')}",
        }
        for name, text in features.items():
            self.log.info("command line has %s (%s): %s", name, text,
                          "yes" if text in line else "no")

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
        self._stop_server()
        super().tearDown()


__all__ = ["FINAL_PATTERN", "ReplayLinuxTest"]
