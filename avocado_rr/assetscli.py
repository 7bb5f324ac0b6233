"""``avocado-rr assets list|fetch|verify|lock``: manage the asset cache.

Mounted by avocado_rr.cli; also runnable as ``python -m avocado_rr.assetscli``.
"""

from __future__ import annotations

import argparse
import sys

from avocado_rr import targets
from avocado_rr.assets import UPDATE_ENV, AssetError, Catalogue
from avocado_rr.cliutil import (print_table, run_each, standalone,
                               subcommands)
from avocado_rr.download import StderrProgress


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``list|fetch|verify|lock`` subcommands to ``parser``."""
    parser.add_argument("--catalogue", help="asset catalogue (default: the "
                        "project's configs/assets.yaml)")
    parser.add_argument("--lock-file", help="lock file (default: assets.lock "
                        "next to the catalogue)")
    helps = {
        "list": "list the catalogue with each asset's cache state",
        "fetch": "download, extract and verify assets (all by default)",
        "verify": "check the cached assets against the lock, offline",
        "lock": "re-resolve Debian assets to the current builds and "
                "rewrite the lock",
    }
    for name, cmd in subcommands(parser, "assets_command", helps).items():
        cmd.add_argument("names", nargs="*", metavar="NAME",
                         help="asset names (default: all selected)")
        cmd.add_argument("-t", "--tags", action="append", default=[],
                         metavar="TAGS", help="select by tags as in avocado "
                         "-t, e.g. arch:x86_64 or kind:kernel (repeatable, "
                         "comma = and)")
        if name == "fetch":
            cmd.add_argument("--update", action="store_true",
                             help="when a locked version is gone from "
                             "Debian, re-resolve and rewrite the lock "
                             f"(like {UPDATE_ENV}=1)")


def _select(cat: Catalogue, names: list[str], tags: list[str]) -> list[str]:
    for name in names:
        cat.spec(name)          # unknown names fail here, clearly
    selected = names or cat.names()
    if not tags:
        return selected
    chosen = []
    for name in selected:
        spec = cat.spec(name)
        values = {"arch": {spec.arch, *spec.guests}
                  | targets.names_of_debian_arch(spec.arch),
                  "kind": {spec.kind}}
        for group in tags:      # any group may match; all tags in a group
            if all(tag.partition(":")[2] in values.get(
                    tag.partition(":")[0], ())
                   for tag in group.split(",")):
                chosen.append(name)
                break
    return chosen


def run(args: argparse.Namespace) -> int:
    """Run a parsed ``assets`` command; returns the exit status."""
    try:
        cat = Catalogue.load(args.catalogue, args.lock_file, args.cache_dir,
                             update=getattr(args, "update", False) or None)
        names = _select(cat, args.names, args.tags)
        return {"list": _list, "fetch": _fetch, "verify": _verify,
                "lock": _lock}[args.assets_command](cat, names)
    except AssetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _list(cat: Catalogue, names: list[str]) -> int:
    rows = [("NAME", "KIND", "ARCH", "PACKAGE", "VERSION", "STATE")]
    for name in names:
        spec = cat.spec(name)
        entry = cat.locked(name) if spec.package else None
        rows.append((name, spec.kind, spec.arch or "-",
                     entry.package if entry else (spec.package or "url"),
                     entry.version if entry else "-", cat.status(name)))
    print_table(rows)
    return 0


def _fetch(cat: Catalogue, names: list[str]) -> int:
    return run_each(
        names, lambda name: f"{name}: "
        f"{cat.fetch(name, progress=StderrProgress(name))}", AssetError)


def _verify(cat: Catalogue, names: list[str]) -> int:
    return run_each(names, lambda name: f"{name}: ok {cat.verify(name)}",
                    AssetError, "{item}: FAILED {error}", to_stderr=False)


def _lock(cat: Catalogue, names: list[str]) -> int:
    for name in names:
        new = cat.lock([name], progress=StderrProgress(name))
        for entry in new.values():
            print(f"{name}: {entry.package} {entry.version} "
                  f"{entry.member} sha256 {entry.sha256}")
    print(f"wrote {cat.lock_path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m avocado_rr.assetscli``."""
    return standalone("avocado-rr assets", __doc__, add_arguments, run, argv)


if __name__ == "__main__":
    sys.exit(main())
