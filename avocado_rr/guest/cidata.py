"""cloud-init NoCloud configuration ISOs ("cidata") made with pycdlib.

The ISO has the volume id ``cidata`` and the files ``user-data`` and
``meta-data`` (and optionally ``network-config``) at its root, named so
with Rock Ridge (what Linux' isofs shows) and Joliet.  All dates in the
image are set to one fixed time, so the same contents give the same bytes.

The avocado-rr guest ``/init`` runs ``user-data`` when it starts with
``#!`` (see ``init.sh`` for the helper functions it offers);
:func:`workload_user_data` writes such a script.
"""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path
from unittest import mock

import pycdlib
import pycdlib.dates
import pycdlib.headervd
import pycdlib.inplaceeditor
import pycdlib.pycdlib

from avocado_rr.download import atomic_write
from avocado_rr.errors import AvocadoRRError

VOLUME_ID = "cidata"

#: the time stamped on every date field (2020-01-01T00:00:00Z)
FIXED_TIME = 1577836800.0

# ISO 9660 name, Rock Ridge / Joliet name
_FILES = (("/USER_DATA.;1", "user-data"),
          ("/META_DATA.;1", "meta-data"),
          ("/NETWORK_CONFIG.;1", "network-config"))

_PYCDLIB_LOCK = threading.Lock()


class CidataError(AvocadoRRError, ValueError):
    """Bad contents for a NoCloud ISO."""


class _FixedClock:
    """Stands in for the ``time`` module inside pycdlib's modules."""

    struct_time = time.struct_time
    strftime = staticmethod(time.strftime)
    strptime = staticmethod(time.strptime)

    @staticmethod
    def time() -> float:
        return FIXED_TIME

    @staticmethod
    def localtime(secs: float | None = None) -> time.struct_time:
        return time.gmtime(FIXED_TIME if secs is None else secs)

    gmtime = localtime


def _as_bytes(name: str, value: str | bytes) -> bytes:
    if isinstance(value, str):
        value = value.encode("utf-8")
    if not isinstance(value, bytes):
        raise CidataError(f"{name} must be str or bytes, not "
                          f"{type(value).__name__}")
    return value


def default_meta_data(instance_id: str = "avocado-rr",
                      hostname: str = "avocado-rr") -> str:
    """A minimal NoCloud ``meta-data`` document."""
    for label, value in (("instance_id", instance_id),
                         ("hostname", hostname)):
        if not value or any(c in value for c in "\n:#"):
            raise CidataError(f"bad {label} {value!r}")
    return f"instance-id: {instance_id}\nlocal-hostname: {hostname}\n"


def cidata_bytes(user_data: str | bytes, meta_data: str | bytes | None = None,
                 network_config: str | bytes | None = None) -> bytes:
    """The NoCloud ISO image as bytes (deterministic for the same input)."""
    contents = [_as_bytes("user_data", user_data),
                _as_bytes("meta_data", default_meta_data()
                          if meta_data is None else meta_data)]
    if network_config is not None:
        contents.append(_as_bytes("network_config", network_config))
    out = io.BytesIO()
    patches = [mock.patch.object(module, "time", _FixedClock)
               for module in (pycdlib.pycdlib, pycdlib.headervd,
                              pycdlib.dates, pycdlib.inplaceeditor)]
    with _PYCDLIB_LOCK:
        for patch in patches:
            patch.start()
        try:
            iso = pycdlib.PyCdlib()
            iso.new(interchange_level=3, joliet=3, rock_ridge="1.09",
                    vol_ident=VOLUME_ID)
            for (iso_path, name), data in zip(_FILES, contents):
                iso.add_fp(io.BytesIO(data), len(data), iso_path,
                           rr_name=name, joliet_path="/" + name)
            iso.write_fp(out)
            iso.close()
        finally:
            for patch in reversed(patches):
                patch.stop()
    return out.getvalue()


def make_cidata_iso(path: str | Path, user_data: str | bytes,
                    meta_data: str | bytes | None = None,
                    network_config: str | bytes | None = None) -> Path:
    """Write a NoCloud ISO to ``path`` (atomically); return the path."""
    path = Path(path)
    data = cidata_bytes(user_data, meta_data, network_config)
    atomic_write(path, data)
    return path


def read_cidata(path: str | Path) -> dict[str, bytes]:
    """Read the files of a NoCloud ISO back (by their Rock Ridge names)."""
    iso = pycdlib.PyCdlib()
    iso.open(str(path))
    try:
        found = {}
        for child in iso.list_children(rr_path="/"):
            if child.is_dot() or child.is_dotdot():
                continue
            name = child.rock_ridge.name().decode()
            buf = io.BytesIO()
            iso.get_file_from_iso_fp(buf, rr_path="/" + name)
            found[name] = buf.getvalue()
        return found
    finally:
        iso.close()


def volume_id(path: str | Path) -> str:
    """The primary volume identifier of an ISO image."""
    iso = pycdlib.PyCdlib()
    iso.open(str(path))
    try:
        return iso.pvd.volume_identifier.decode().rstrip()
    finally:
        iso.close()


def workload_user_data(disk: str | None = "/dev/vda", disk_kib: int = 256,
                       http_port: int | None = None,
                       http_path: str = "/payload.bin",
                       http_host: str = "10.0.2.2",
                       address: str = "10.0.2.15/24",
                       gateway: str = "10.0.2.2",
                       extra: str = "") -> str:
    """A user-data script for the avocado-rr ``/init``.

    :param disk: block device to write and read back (None: no disk step)
    :param disk_kib: KiB written at the start of the disk
    :param http_port: port of the host's HTTP server (None: no network)
    :param extra: more shell lines, run last
    """
    lines = ["#!/bin/sh", "# avocado-rr workload (run by the guest /init)"]
    if disk is not None:
        if not disk.startswith("/dev/") or " " in disk:
            raise CidataError(f"bad disk device {disk!r}")
        if not 0 < disk_kib <= 1024 * 1024:
            raise CidataError(f"disk_kib {disk_kib} out of range")
        lines.append(f"rr_disk {disk} {disk_kib}")
    if http_port is not None:
        if not 0 < http_port < 65536:
            raise CidataError(f"bad HTTP port {http_port}")
        if not http_path.startswith("/") or any(c in http_path
                                                for c in " '\"\\$`"):
            raise CidataError(f"bad HTTP path {http_path!r}")
        lines.append(f"rr_net_up {address} {gateway}")
        lines.append(f"rr_http_get {http_host} {http_port} {http_path}")
    if extra:
        lines.append(extra.rstrip("\n"))
    lines.append("rr_marker workload-done")
    return "\n".join(lines) + "\n"


__all__ = ["FIXED_TIME", "VOLUME_ID", "CidataError", "cidata_bytes",
           "default_meta_data", "make_cidata_iso", "read_cidata",
           "volume_id", "workload_user_data"]
