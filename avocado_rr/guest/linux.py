"""The guest of the full Linux boots, built without Avocado.

A Debian kernel boots the avocado-rr busybox initramfs with a NoCloud
config ISO whose user-data is the workload, a disk under ``blkreplay``
whose first KiBs the guest hashes, and user-mode networking under
``filter-replay`` to fetch a file from an HTTP server on 127.0.0.1 (the
guest's 10.0.2.2).  The guest prints a marker per step; the recording
ends at the last one (:data:`FINAL_PATTERN`).

:class:`LinuxGuest` builds all of it into an output directory and judges
what the guest printed; :class:`avocado_rr.testing.linux.ReplayLinuxTest`
is the Avocado layer over it, and any other caller builds the same
guest::

    with LinuxGuest(outdir, "x86_64", LinuxDevices(cdrom_device="ide-cd"),
                    log=log) as guest:
        guest.prepare(assets.default_catalogue(), kernel_path)
        spec = guest.boot_spec("pc", console="ttyS0")
        verdict = RecordReplay(qemu, outdir).check(
            spec, FINAL_PATTERN, between=guest.between_phases,
            extra_checks=guest.replay_checks)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
import socket
from dataclasses import dataclass

from avocado_rr import assets, devices
from avocado_rr.console import read_transcript
from avocado_rr.download import sha256_file
from avocado_rr.guest import cidata, initramfs, markers
from avocado_rr.httpserve import FileServer, payload
from avocado_rr.pair import BootSpec, Recording, ReplayOutcome
from avocado_rr.verdict import Check, Verdict, VerdictKind

DISK_SIZE = 64 << 20
DISK_KIB = 256
#: the first DISK_KIB KiB of the disk image, the guest hashes them
DISK_HEAD = (b"avocado-rr disk image\n" * 12000)[:DISK_KIB * 1024]
HTTP_PATH = "/payload.bin"
#: the kernel command line before ``console=``
APPEND = "printk.time=1 panic=-1"

#: the record ends at the guest's last marker (it stays up after it)
FINAL_PATTERN = markers.PREFIX + markers.FINAL

#: what building the guest raises (an asset, the initramfs, a device
#: choice or qemu-img, the ISO)
BUILD_ERRORS = (assets.AssetError, initramfs.InitramfsError,
                devices.DeviceError, cidata.CidataError)


@dataclass(frozen=True)
class LinuxDevices:
    """The guest's device choices (see :mod:`avocado_rr.devices`)."""

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

    @property
    def uses_overlay(self) -> bool:
        """-blockdev has no snapshot=on; rrsnapshot needs a lasting disk."""
        return self.disk_syntax == "blockdev" or bool(self.rrsnapshot)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The choices' names (the tests' parameters of the same names)."""
        return tuple(field.name for field in dataclasses.fields(cls))


@dataclass(frozen=True)
class LinuxInputs:
    """What the guest boots with, their sha256, what it must print."""

    kernel: str
    initramfs: str
    disk_image: str
    iso: str
    user_data: str
    #: the guest's name of its disk, e.g. /dev/vda
    guest_disk: str
    http_body: bytes
    http_port: int
    kernel_sha256: str
    initramfs_sha256: str
    disk_sha256: str
    iso_sha256: str

    def expected_markers(self) -> list[re.Pattern]:
        """The markers the workload prints, in order, with the values the
        host prepared (:func:`avocado_rr.guest.markers.expected_markers`)."""
        return markers.expected_markers(
            disk=self.guest_disk, disk_head=DISK_HEAD, disk_kib=DISK_KIB,
            http_body=self.http_body)

    def disk_unchanged(self) -> bool:
        """Whether the disk image still has its sha256 (it is never
        written: the guest's writes go to a snapshot or an overlay)."""
        return sha256_file(self.disk_image) == self.disk_sha256

    def to_json(self) -> dict:
        """What ``inputs.json`` records: the paths and every sha256."""
        return {"kernel": self.kernel, "kernel_sha256": self.kernel_sha256,
                "initramfs": self.initramfs,
                "initramfs_sha256": self.initramfs_sha256,
                "disk_image": self.disk_image,
                "disk_sha256": self.disk_sha256,
                "iso": self.iso, "iso_sha256": self.iso_sha256,
                "http_sha256": hashlib.sha256(self.http_body).hexdigest(),
                "http_port": self.http_port}


class LinuxGuest:
    """The Linux guest of one record/replay pair, in ``outdir``.

    :meth:`prepare` builds the inputs and starts the HTTP server;
    :meth:`boot_spec` is the machine to record; :meth:`between_phases` and
    :meth:`replay_checks` are the engine's hooks
    (:meth:`avocado_rr.engine.RecordReplay.check`); :meth:`stop_server`
    (or leaving the ``with`` block) stops the server.
    """

    def __init__(self, outdir: str, arch: str,
                 choices: LinuxDevices = LinuxDevices(),
                 log: logging.Logger | None = None):
        self.outdir = os.fspath(outdir)
        self.arch = arch
        self.devices = choices
        self.log = log or logging.getLogger("avocado_rr.guest")
        self.inputs: LinuxInputs | None = None
        self.server: FileServer | None = None

    def __enter__(self) -> "LinuxGuest":
        return self

    def __exit__(self, *exc) -> None:
        self.stop_server()

    def path(self, name: str) -> str:
        return os.path.join(self.outdir, name)

    # -- inputs ---------------------------------------------------------
    def prepare(self, catalogue, kernel: str) -> LinuxInputs:
        """Initramfs, disk image, served file and config ISO.

        Everything lands in the output directory (the initramfs is cached
        by content hash and referenced); ``inputs.json`` lists the hashes.

        :param catalogue: an :class:`avocado_rr.assets.Catalogue` (the
            initramfs's busybox and kernel modules)
        :param kernel: the kernel's path
        :raises: one of :data:`BUILD_ERRORS`
        """
        log = self.log
        choices = self.devices
        initrd = os.fspath(initramfs.build_initramfs_for(catalogue,
                                                         self.arch))
        initrd_sha256 = sha256_file(initrd)
        log.info("initramfs %s (sha256 %s)", initrd, initrd_sha256)
        disk_image = self.path(f"disk.{choices.disk_format}")
        devices.make_disk_image(disk_image, DISK_HEAD, DISK_SIZE,
                                choices.disk_format)
        disk_sha256 = sha256_file(disk_image)
        log.info("disk image %s (sha256 %s)", disk_image, disk_sha256)
        body = payload()
        self.server = FileServer({HTTP_PATH: body}).start()
        log.info("HTTP server on 127.0.0.1:%d serves %s (sha256 %s, %d "
                 "bytes)", self.server.port, HTTP_PATH,
                 hashlib.sha256(body).hexdigest(), len(body))
        guest_disk = devices.guest_disk(choices.disk_interface)
        user_data = cidata.workload_user_data(
            disk=guest_disk, disk_kib=DISK_KIB,
            http_port=self.server.port, http_path=HTTP_PATH)
        with open(self.path("user-data"), "w",
                  encoding="utf-8") as out:
            out.write(user_data)
        iso = os.fspath(cidata.make_cidata_iso(self.path("cidata.iso"),
                                               user_data))
        iso_sha256 = sha256_file(iso)
        log.info("config ISO %s (sha256 %s), user-data:\n%s", iso,
                 iso_sha256, user_data)
        self.inputs = LinuxInputs(
            kernel=kernel, initramfs=initrd, disk_image=disk_image, iso=iso,
            user_data=user_data, guest_disk=guest_disk, http_body=body,
            http_port=self.server.port, kernel_sha256=sha256_file(kernel),
            initramfs_sha256=initrd_sha256, disk_sha256=disk_sha256,
            iso_sha256=iso_sha256)
        with open(self.path("inputs.json"), "w", encoding="utf-8") as data:
            json.dump(self.inputs.to_json(), data, indent=2)
        return self.inputs

    def _prepared(self) -> LinuxInputs:
        if self.inputs is None:
            raise RuntimeError("LinuxGuest.prepare() has not run")
        return self.inputs

    @property
    def overlay(self) -> str:
        """The writable overlay of the disk image (when one is used)."""
        return self.path("disk-overlay.qcow2")

    def device_args(self) -> list[str]:
        """The QEMU arguments of the disk, cdrom, network (and snapshot);
        makes the overlay and the snapshot image they name."""
        inputs, choices = self._prepared(), self.devices
        return linux_device_args(
            inputs, choices, self.overlay if choices.uses_overlay else None,
            self.path("rrsnapshot.qcow2"))

    def boot_spec(self, machine: str, console: str, cpu: str | None = None,
                  append: str = APPEND, shift: int = 5,
                  memory: str = "512",
                  extra_args: tuple[str, ...] | list[str] = ()) -> BootSpec:
        """The machine to record and replay (see :meth:`device_args`).

        :param console: the guest's serial console, e.g. ``ttyS0``
        """
        inputs = self._prepared()
        return BootSpec(
            arch=self.arch, machine=machine, cpu=cpu, kernel=inputs.kernel,
            initrd=inputs.initramfs, append=f"{append} console={console}",
            shift=shift, memory=str(memory),
            extra_args=self.device_args() + list(extra_args),
            net_none=False, rrsnapshot=self.devices.rrsnapshot or None)

    def log_cmdline_features(self, spec: BootSpec) -> None:
        """Say which record/replay devices ``spec``'s command line has."""
        line = " ".join(spec.qemu_args())
        features = {
            "blkreplay node": "driver=blkreplay",
            "disk snapshot=on": "snapshot=on",
            "cdrom ISO": f"file={self._prepared().iso},format=raw,if=none,"
                         f"media=cdrom",
            "filter-replay": "filter-replay,",
            "virtio-net tx mode": f"tx={self.devices.net_tx}",
        }
        for name, text in features.items():
            self.log.info("command line has %s (%s): %s", name, text,
                          "yes" if text in line else "no")

    # -- between and after the phases ----------------------------------
    def stop_server(self) -> None:
        """Stop the HTTP server (if it runs) and log what it answered."""
        server, self.server = self.server, None
        if server is None:
            return
        port = server.port
        server.stop()
        try:
            socket.create_connection(("127.0.0.1", port), 2).close()
            state = "still accepts connections (another process?)"
        except OSError as details:
            state = f"refuses connections ({details.strerror})"
        self.log.info("HTTP server stopped after answering %s; "
                      "127.0.0.1:%d %s", server.requests, port, state)

    def between_phases(self, recording: Recording) -> Verdict | None:
        """After the recording: stop the HTTP server (the replay must do
        without it), check the recorded workload, restore the disk; a
        ``record-failed`` verdict when the workload went wrong."""
        inputs = self._prepared()
        self.stop_server()
        expected = inputs.expected_markers()
        problem = markers.check_markers(recording.recorded_console(),
                                        expected)
        if problem or not inputs.disk_unchanged():
            reason = (f"the recorded workload went wrong: {problem}"
                      if problem else
                      f"the disk image {inputs.disk_image} was modified by "
                      f"the recording")
            return Verdict(VerdictKind.RECORD_FAILED, reason,
                           recorded_icount=recording.icount,
                           record_time=recording.record_time,
                           qemu_version=recording.qemu_version)
        self.log.info("recording: all %d markers in order; the guest "
                      "read the disk and HTTP values the host prepared",
                      len(expected))
        if self.devices.uses_overlay and not self.devices.rrsnapshot:
            # the replay must start from the recorded disk state (with
            # rrsnapshot the snapshot in the overlay restores it)
            devices.make_overlay(inputs.disk_image, self.overlay,
                                 self.devices.disk_format)
        return None

    def replay_checks(self, recording: Recording,
                      outcome: ReplayOutcome) -> list[Check]:
        """The Linux checks of a replay, judged with the engine's: every
        marker in order, the disk image unchanged."""
        inputs = self._prepared()
        expected = inputs.expected_markers()
        problem = markers.check_markers(read_transcript(outcome.console),
                                        expected)
        image_ok = inputs.disk_unchanged()
        return [Check("markers", problem is None,
                      problem or f"all {len(expected)} markers in order"),
                Check("disk image", image_ok,
                      f"sha256 {'unchanged' if image_ok else 'changed'} "
                      f"after both phases")]


def linux_device_args(inputs: LinuxInputs, choices: LinuxDevices,
                      overlay: str | None = None,
                      rrsnapshot_image: str | None = None) -> list[str]:
    """The QEMU arguments of the guest's disk, cdrom and network, and of
    the ``rrsnapshot=`` drive when ``choices`` ask for a snapshot.

    :param overlay: made afresh over the disk image and opened instead of
        it (needed by ``-blockdev`` and ``rrsnapshot``)
    :param rrsnapshot_image: the empty qcow2 made for the snapshot
    """
    args: list[str] = []
    interface, cdrom_device = choices.disk_interface, choices.cdrom_device
    if "scsi" in (interface, cdrom_device.split("-")[0]):
        args += devices.scsi_controller_args()
    if overlay is not None:
        devices.make_overlay(inputs.disk_image, overlay, choices.disk_format)
    args += devices.disk_args(inputs.disk_image, choices.disk_format,
                              interface, choices.disk_syntax, overlay)
    args += devices.cdrom_args(inputs.iso, cdrom_device, choices.cdrom_mode)
    args += devices.net_args(choices.net_tx)
    if choices.rrsnapshot:
        if rrsnapshot_image is None:
            raise devices.DeviceError("rrsnapshot needs an image for the "
                                      "snapshot drive")
        args += devices.rrsnapshot_drive(rrsnapshot_image)
    return args


__all__ = ["APPEND", "BUILD_ERRORS", "DISK_HEAD", "DISK_KIB", "DISK_SIZE",
           "FINAL_PATTERN", "HTTP_PATH", "LinuxDevices", "LinuxGuest",
           "LinuxInputs", "linux_device_args"]
