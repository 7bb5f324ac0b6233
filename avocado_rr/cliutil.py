"""What the ``avocado-rr`` subcommands print, the same way everywhere."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Iterable, Sequence


CACHE_DIR_HELP = ("cache directory (default: $AVOCADO_RR_CACHE_DIR or "
                  "$XDG_CACHE_HOME/avocado-rr)")


def subcommands(parser: argparse.ArgumentParser, dest: str,
                helps: dict[str, str]
                ) -> dict[str, argparse.ArgumentParser]:
    """Add ``--cache-dir`` and one required subcommand per ``helps`` entry
    (name -> help) to ``parser``; returns the subcommands' parsers."""
    parser.add_argument("--cache-dir", help=CACHE_DIR_HELP)
    sub = parser.add_subparsers(dest=dest, metavar="COMMAND")
    sub.required = True
    return {name: sub.add_parser(name, help=text, description=text)
            for name, text in helps.items()}


def print_table(rows: Sequence[Sequence[str]]) -> None:
    """Print ``rows`` (a header first) as left-aligned columns."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(col.ljust(w) for col, w in zip(row, widths)).rstrip())


def run_each(items: Iterable[str], action: Callable[[str], str],
             errors: type[BaseException] | tuple[type[BaseException], ...],
             failure: str = "error: {error}", to_stderr: bool = True) -> int:
    """Print ``action(item)`` for each item; an ``errors`` exception is
    printed with ``failure`` (``{item}``, ``{error}``) and the next item
    goes on. Returns 1 when any item failed, else 0."""
    failed = 0
    for item in items:
        try:
            print(action(item))
        except errors as exc:
            print(failure.format(item=item, error=exc),
                  file=sys.stderr if to_stderr else sys.stdout)
            failed += 1
    return 1 if failed else 0


def standalone(prog: str, doc: str,
               add_arguments: Callable[[argparse.ArgumentParser], None],
               run: Callable[[argparse.Namespace], int],
               argv: list[str] | None = None) -> int:
    """Run a subcommand module as its own program (``python -m ...``)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    parser = argparse.ArgumentParser(prog=prog,
                                     description=doc.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))
