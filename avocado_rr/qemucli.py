"""``avocado-rr qemu list|fetch|verify|lock|path``: Debian's QEMU builds.

Mounted by avocado_rr.cli and as ``avocado replay-qemu``; also runnable
as ``python -m avocado_rr.qemucli``.
"""

from __future__ import annotations

import argparse
import sys

from avocado_rr.cliutil import (print_table, run_each, standalone,
                               subcommands)
from avocado_rr.download import StderrProgress
from avocado_rr.lockedcatalogue import UPDATE_ENV
from avocado_rr.qemu_builds import QemuBuildError, QemuBuilds


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``list|fetch|verify|lock|path`` subcommands to ``parser``."""
    helps = {
        "list": "list the QEMU versions with their Debian build and state",
        "fetch": "download and unpack QEMU builds (all by default)",
        "verify": "check fetched builds offline: packages against the "
                  "lock, libraries and firmware inside the tree, --version",
        "lock": "re-resolve QEMU versions to the archive's current builds "
                "and rewrite configs/qemu.lock",
        "path": "print the bin dir of a version's qemu-system-* (for "
                "QEMU_BUILD_DIR or --qemu-build-dir), fetching it if needed",
    }
    for name, cmd in subcommands(parser, "qemu_command", helps).items():
        cmd.add_argument("versions", nargs="+" if name == "path" else "*",
                         metavar="VERSION",
                         help="QEMU versions, e.g. 11.1 (default: all)")
        if name == "fetch":
            cmd.add_argument("--update", action="store_true",
                             help="when a locked package is gone from "
                             "Debian, re-resolve and rewrite the lock "
                             f"(like {UPDATE_ENV}=1)")


def run(args: argparse.Namespace) -> int:
    """Run a parsed ``qemu`` command; returns the exit status."""
    try:
        builds = QemuBuilds.load(cache=args.cache_dir,
                                 update=getattr(args, "update", False)
                                 or None)
        versions = args.versions or builds.versions()
        for version in versions:
            builds.spec(version)        # unknown versions fail here
        return {"list": _list, "fetch": _fetch, "verify": _verify,
                "lock": _lock, "path": _path}[args.qemu_command](builds,
                                                                 versions)
    except QemuBuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _list(builds: QemuBuilds, versions: list[str]) -> int:
    rows = [("VERSION", "DEBIAN BUILD", "PACKAGES", "STATE", "FROM")]
    for version in versions:
        spec = builds.spec(version)
        locked = builds.locked(version)
        rows.append((version, locked.debian_version if locked else "-",
                     str(len(locked.packages)) if locked else "-",
                     builds.status(version), spec.description))
    print_table(rows)
    return 0


def _fetch(builds: QemuBuilds, versions: list[str]) -> int:
    return run_each(
        versions, lambda version: f"{version}: " + str(builds.fetch(
            version, StderrProgress(f"QEMU {version}")) / "bin"),
        QemuBuildError)


def _verify(builds: QemuBuilds, versions: list[str]) -> int:
    return run_each(versions,
                    lambda version: f"{version}: ok {builds.verify(version)}",
                    QemuBuildError, "{item}: FAILED {error}", to_stderr=False)


def _lock(builds: QemuBuilds, versions: list[str]) -> int:
    for version in versions:
        locked = builds.lock(version)
        print(f"{version}: {locked.debian_version} "
              f"({len(locked.packages)} packages)")
    print(f"wrote {builds.lock_path}")
    return 0


def _path(builds: QemuBuilds, versions: list[str]) -> int:
    for version in versions:
        print(builds.bin_dir(version, progress=StderrProgress(
            f"QEMU {version}")))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m avocado_rr.qemucli``."""
    return standalone("avocado-rr qemu", __doc__, add_arguments, run, argv)


if __name__ == "__main__":
    sys.exit(main())
