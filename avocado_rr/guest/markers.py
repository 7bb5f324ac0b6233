"""The progress markers the avocado-rr guest ``/init`` prints.

Every step of ``init.sh`` prints a line ``AVOCADO-RR: <step> [details]``.
:func:`expected_markers` describes, as regular expressions, the sequence a
boot running :func:`avocado_rr.guest.cidata.workload_user_data` prints, with
the values the host knows in advance (the disk's and the served file's
sha256); :func:`check_markers` compares a console transcript with it.
"""

from __future__ import annotations

import hashlib
import re
from typing import Sequence

PREFIX = "AVOCADO-RR: "
_MARKER = re.compile(rb"^AVOCADO-RR: ([^\r\n]*)", re.MULTILINE)

#: the last marker; the guest stays up ~2 s of guest time after it
FINAL = "poweroff"


def markers(transcript: bytes) -> list[str]:
    """The marker texts of a console transcript, in order."""
    return [m.group(1).decode("utf-8", "replace").rstrip()
            for m in _MARKER.finditer(transcript)]


def disk_pattern(kib: int) -> bytes:
    """What ``rr_disk DEV KIB`` writes: 32-byte numbered lines."""
    return b"".join(b"avocado-rr block %014d\n" % i for i in range(kib * 32))


def expected_markers(disk: str | None = None,
                     disk_head: bytes | None = None, disk_kib: int = 256,
                     http_body: bytes | None = None,
                     address: str = "10.0.2.15/24", gateway: str = "10.0.2.2",
                     cidata_device: str = "/dev/sr0",
                     instance_id: str = "avocado-rr",
                     extra: Sequence[str] = ()) -> list[re.Pattern]:
    """The marker sequence of a standard workload, as full-match patterns.

    :param disk: the guest disk device (None: no disk step)
    :param disk_head: the first ``disk_kib`` KiB of the image, whose sha256
        ``disk-before`` must show
    :param http_body: the file served to the guest (None: no network step)
    :param extra: regular expressions of the markers of extra user-data
        lines, before ``workload-done``
    """
    esc = re.escape
    out = ["init", "modules-loaded", f"cidata {esc(cidata_device)}",
           f"instance-id {esc(instance_id)}", "user-data-start"]
    if disk is not None:
        if disk_head is None or len(disk_head) != disk_kib * 1024:
            raise ValueError(f"disk_head must be the image's first "
                             f"{disk_kib} KiB")
        before = hashlib.sha256(disk_head).hexdigest()
        written = hashlib.sha256(disk_pattern(disk_kib)).hexdigest()
        out += [f"disk-before {esc(disk)} {before}",
                f"disk-written {written}", f"disk-readback {written}",
                "disk-ok"]
    if http_body is not None:
        body = hashlib.sha256(http_body).hexdigest()
        out += [f"net-up eth0 {esc(address)} via {esc(gateway)}",
                r"http-status HTTP/1\.[01] 200 OK",
                f"http-sha256 {body} size={len(http_body)}"]
    out += list(extra)
    out += ["workload-done", "user-data-done rc=0", FINAL]
    return [re.compile(text) for text in out]


def check_markers(transcript: bytes,
                  expected: Sequence[re.Pattern]) -> str | None:
    """None if the transcript's markers are ``expected``, in order.

    Otherwise a description of the first difference: a missing, wrong or
    unexpected marker, naming its position.
    """
    seen = markers(transcript)
    for index, pattern in enumerate(expected):
        if index >= len(seen):
            last = seen[-1] if seen else "none"
            return (f"marker {index + 1} /{pattern.pattern}/ never came "
                    f"(the last of {len(seen)} was {last!r})")
        if not pattern.fullmatch(seen[index]):
            return (f"marker {index + 1} is {seen[index]!r}, expected "
                    f"/{pattern.pattern}/")
    if len(seen) > len(expected):
        return (f"unexpected marker {len(expected) + 1}: "
                f"{seen[len(expected)]!r}")
    return None


__all__ = ["FINAL", "PREFIX", "check_markers", "disk_pattern",
           "expected_markers", "markers"]
