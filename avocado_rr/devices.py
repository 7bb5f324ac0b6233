"""QEMU device arguments for record/replay of full Linux boots.

Small builders, one per device kind, that return the arguments to append
to both phases of a pair (:attr:`avocado_rr.engine.BootSpec.extra_args`).
Every block device the guest writes or reads under record/replay sits
behind a ``blkreplay`` node, so its requests complete at the points the
log says; the disk image itself is never written (``snapshot=on`` with
``-drive``, a fresh qcow2 overlay per phase with ``-blockdev``).

Known to work on QEMU 7.2 (docs/linux-cases.md)::

    -drive file=disk.qcow2,format=qcow2,if=none,snapshot=on,id=disk0
    -drive driver=blkreplay,if=none,image=disk0,id=disk0-rr
    -device virtio-blk-pci,drive=disk0-rr
"""

from __future__ import annotations

import os
import subprocess

from avocado_rr.errors import AvocadoRRError

#: the guest's name of the first disk, per disk interface
GUEST_DISK = {"virtio": "/dev/vda", "scsi": "/dev/sda"}

DISK_INTERFACES = tuple(GUEST_DISK)
CDROM_DEVICES = ("ide-cd", "scsi-cd")
CDROM_MODES = ("blkreplay", "plain")
NET_TX_MODES = ("timer", "bh")
DISK_SYNTAXES = ("drive", "blockdev")
DISK_FORMATS = ("qcow2", "raw")

#: the virtio-scsi controller shared by scsi disks and cdroms
SCSI_CONTROLLER = "scsi0"


class DeviceError(AvocadoRRError, ValueError):
    """An unknown or inconsistent device choice."""


def _choose(kind: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise DeviceError(f"unknown {kind} {value!r}; choose one of "
                          f"{', '.join(allowed)}")
    return value


def _check_path(path: str) -> str:
    # QEMU's option syntax splits on "," (",," escapes it): refuse rather
    # than silently open another file
    if "," in os.fspath(path):
        raise DeviceError(f"{path!r}: a path with ',' can't be given to "
                          f"QEMU options")
    return os.fspath(path)


def scsi_controller_args() -> list[str]:
    """A virtio-scsi controller for scsi disks and cdroms."""
    return ["-device", f"virtio-scsi-pci,id={SCSI_CONTROLLER}"]


def disk_args(image: str, fmt: str = "qcow2", interface: str = "virtio",
              syntax: str = "drive", overlay: str | None = None,
              node: str = "disk0") -> list[str]:
    """A writable disk under record/replay, the image left untouched.

    :param image: the disk image (never written)
    :param fmt: its format, ``qcow2`` or ``raw``
    :param interface: ``virtio`` (virtio-blk-pci) or ``scsi`` (scsi-hd on
        the virtio-scsi controller, which :func:`scsi_controller_args`
        adds; add it once per machine)
    :param syntax: ``drive`` (``-drive``) or ``blockdev`` (``-blockdev``
        nodes, which need an ``overlay``)
    :param overlay: a qcow2 whose backing file is ``image`` (see
        :func:`make_overlay`), opened writable instead of ``image``;
        without it ``-drive ...,snapshot=on`` keeps the writes in a
        temporary file.  ``rrsnapshot=`` needs an overlay: the snapshot
        saved by the recording must still be in the disk for the replay.
    """
    _choose("disk format", fmt, DISK_FORMATS)
    _choose("disk interface", interface, DISK_INTERFACES)
    _choose("disk syntax", syntax, DISK_SYNTAXES)
    image = _check_path(image)
    rr_node = f"{node}-rr"
    if syntax == "drive":
        if overlay is None:
            disk = f"file={image},format={fmt},if=none,snapshot=on,id={node}"
        else:
            overlay = _check_path(overlay)
            disk = f"file={overlay},format=qcow2,if=none,id={node}"
        args = ["-drive", disk,
                "-drive", f"driver=blkreplay,if=none,image={node},"
                f"id={rr_node}"]
    else:
        if overlay is None:
            raise DeviceError("-blockdev has no snapshot=on: give a fresh "
                              "qcow2 overlay of the image (make_overlay)")
        overlay = _check_path(overlay)
        args = ["-blockdev", f"driver=file,filename={overlay},"
                f"node-name={node}-file",
                "-blockdev", f"driver=qcow2,file={node}-file,"
                f"node-name={node}",
                "-blockdev", f"driver=blkreplay,image={node},"
                f"node-name={rr_node}"]
    if interface == "virtio":
        return args + ["-device", f"virtio-blk-pci,drive={rr_node}"]
    return args + ["-device", f"scsi-hd,drive={rr_node},"
                   f"bus={SCSI_CONTROLLER}.0"]


def cdrom_args(iso: str, device: str = "ide-cd", mode: str = "blkreplay",
               node: str = "cd") -> list[str]:
    """A read-only cdrom holding ``iso``.

    :param device: ``ide-cd`` (pc, and q35 when the kernel has AHCI) or
        ``scsi-cd`` (on the virtio-scsi controller; add
        :func:`scsi_controller_args` once)
    :param mode: ``blkreplay`` (the drive behind a blkreplay node, as the
        disk) or ``plain`` (``media=cdrom`` straight on the device, as in
        QEMU's own record/replay tests)
    """
    _choose("cdrom device", device, CDROM_DEVICES)
    _choose("cdrom mode", mode, CDROM_MODES)
    iso = _check_path(iso)
    if mode == "blkreplay":
        args = ["-drive", f"file={iso},format=raw,if=none,media=cdrom,"
                f"id={node}-direct,readonly=on",
                "-drive", f"driver=blkreplay,if=none,image={node}-direct,"
                f"id={node},readonly=on"]
    else:
        args = ["-drive", f"file={iso},format=raw,if=none,media=cdrom,"
                f"id={node},readonly=on"]
    if device == "ide-cd":
        return args + ["-device", f"ide-cd,drive={node}"]
    return args + ["-device", f"scsi-cd,drive={node},"
                   f"bus={SCSI_CONTROLLER}.0"]


def net_args(tx: str = "timer", netdev: str = "net0") -> list[str]:
    """User-mode networking on virtio-net, its packets in the replay log.

    :param tx: virtio-net's transmit mode; ``timer`` replays on QEMU 7.2,
        the default ``bh`` makes replays hang at the first TCP exchange
    """
    _choose("virtio-net tx mode", tx, NET_TX_MODES)
    # romfile= : no PXE option ROM (none is needed to boot with -kernel)
    return ["-netdev", f"user,id={netdev}",
            "-device", f"virtio-net-pci,netdev={netdev},romfile=,tx={tx}",
            "-object", f"filter-replay,id={netdev}-replay,netdev={netdev}"]


#: the id of the drive that holds a recording's ``rrsnapshot`` snapshots
RRSNAPSHOT_DRIVE = "rrsnap"
#: x86 without QEMU's TCG "vapic" (kvmvapic, the TPR-access optimisation):
#: a snapshot taken once the guest enabled it (every one after the BIOS)
#: deadlocks QEMU when a replay loads it (7.2, 11.1; docs/findings.md,
#: section 7), and reverse execution loads snapshots
X86_NO_VAPIC = ("-global", "apic-common.vapic=off")

#: Malta's Linux calibrates its clock against the RTC; on the host clock
#: that busy loop logs a host-clock read per iteration (40 MB of log, 5 M
#: events for mipsel). On the virtual clock the log is 0.5 MB.
RTC_ON_VM_CLOCK = ("-rtc", "base=2020-01-01T00:00:00,clock=vm")


def rrsnapshot_drive_args(image: str,
                          drive_id: str = RRSNAPSHOT_DRIVE) -> list[str]:
    """A writable qcow2 for the ``rrsnapshot=`` snapshot, on no device.

    Its flushes are dropped (``cache.no-flush=on``): each reverse step
    loads a snapshot, and a qcow2 snapshot switch flushes its metadata
    several times; a scratch image that only this QEMU uses needs no
    durability beyond the host's page cache (a crashed QEMU loses
    nothing, only a crashed host would)."""
    return ["-drive", f"file={_check_path(image)},format=qcow2,if=none,"
            f"id={drive_id},cache.no-flush=on"]


def rrsnapshot_drive(image: str,
                     drive_id: str = RRSNAPSHOT_DRIVE) -> list[str]:
    """An empty qcow2 at ``image`` (replacing it) for the ``rrsnapshot=``
    snapshot, and its ``-drive`` arguments."""
    return rrsnapshot_drive_args(make_empty_qcow2(_check_path(image)),
                                 drive_id)


def guest_disk(interface: str) -> str:
    """The guest's name of the first disk on ``interface``."""
    return GUEST_DISK[_choose("disk interface", interface, DISK_INTERFACES)]


def qemu_img(*args: str, binary: str = "qemu-img") -> str:
    """Run ``qemu-img``; raise with its message when it fails."""
    proc = subprocess.run([binary, *args], capture_output=True, text=True,
                          check=False)
    if proc.returncode:
        raise DeviceError(f"qemu-img {' '.join(args)} failed "
                          f"({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def make_overlay(base: str, overlay: str, base_format: str = "qcow2",
                 binary: str = "qemu-img") -> str:
    """A fresh, empty qcow2 overlay of ``base`` (replacing ``overlay``)."""
    if os.path.exists(overlay):
        os.unlink(overlay)
    qemu_img("create", "-q", "-f", "qcow2", "-F", base_format, "-b",
             os.path.abspath(base), overlay, binary=binary)
    return overlay


def make_empty_qcow2(path: str, size: str = "64M",
                     binary: str = "qemu-img") -> str:
    """An empty qcow2 (e.g. to hold ``rrsnapshot=`` snapshots)."""
    if os.path.exists(path):
        os.unlink(path)
    qemu_img("create", "-q", "-f", "qcow2", path, size, binary=binary)
    return path


def make_disk_image(path: str, head: bytes, size: int = 64 << 20,
                    fmt: str = "qcow2", binary: str = "qemu-img") -> str:
    """A disk image of ``size`` bytes starting with ``head``, zeros after."""
    _choose("disk format", fmt, DISK_FORMATS)
    if len(head) > size:
        raise DeviceError(f"head of {len(head)} bytes exceeds the disk "
                          f"size {size}")
    raw = path if fmt == "raw" else path + ".raw"
    with open(raw, "wb") as out:
        out.write(head)
        out.truncate(size)
    if fmt == "qcow2":
        try:
            if os.path.exists(path):
                os.unlink(path)
            qemu_img("convert", "-f", "raw", "-O", "qcow2", raw, path,
                     binary=binary)
        finally:
            os.unlink(raw)
    return path


__all__ = ["CDROM_DEVICES", "CDROM_MODES", "DISK_FORMATS",
           "DISK_INTERFACES", "DISK_SYNTAXES", "DeviceError", "GUEST_DISK",
           "NET_TX_MODES", "cdrom_args", "disk_args", "guest_disk",
           "make_disk_image",
           "make_empty_qcow2", "make_overlay", "net_args", "qemu_img",
           "rrsnapshot_drive", "rrsnapshot_drive_args", "RRSNAPSHOT_DRIVE",
           "RTC_ON_VM_CLOCK", "X86_NO_VAPIC",
           "scsi_controller_args"]
