"""The replay summary of an Avocado job: a table, JSON and an SVG chart.

For every test of the job: arch, machine, Avocado status, verdict class,
record and replay time, replay overhead, recorded icount, replay-log
events and size.  The numbers come from the verdict each
``ReplayTestBase`` test writes to its whiteboard (or, if the whiteboard
holds none, to ``data/verdict.json``); tests that are not record/replay
tests are listed with what Avocado knows.

Written at the end of ``avocado run`` (``[replay] summary = False`` or
``--replay-no-summary`` turns it off):

* the table, on the console, after the RESULTS line;
* ``replay-summary.json`` in the job results dir;
* ``replay-summary.svg`` next to it: record vs replay time per test;
* when the job ran more than one QEMU version (``make check-matrix``):
  a case x version table after the summary, under ``matrix`` in the
  JSON and as ``replay-matrix.svg`` (see :mod:`avocado_rr.matrix`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from types import SimpleNamespace
from xml.sax.saxutils import escape

from avocado.core.output import LOG_UI
from avocado.core.plugin_interfaces import Result

from avocado_rr import matrix
from avocado_rr.avocado_ids import parse_test_id
from avocado_rr.plugins.init import SUMMARY_NAMESPACE
from avocado_rr.verdict import Verdict

JSON_NAME = "replay-summary.json"
SVG_NAME = "replay-summary.svg"
MATRIX_SVG_NAME = "replay-matrix.svg"


def _verdict_data(state: Mapping) -> dict:
    """The verdict a test left: its whiteboard, else data/verdict.json."""
    try:
        data = json.loads(state.get("whiteboard") or "")
        if isinstance(data, dict):
            return data
    except ValueError:
        pass
    logdir = state.get("logdir")
    if logdir:
        try:
            with open(os.path.join(logdir, "data", "verdict.json"),
                      encoding="utf-8") as stream:
                data = json.load(stream)
            if isinstance(data, dict):
                return data
        except (OSError, ValueError):
            pass
    return {}


def _tag(state: Mapping, key: str) -> str | None:
    values = (state.get("tags") or {}).get(key) or ()
    values = sorted(values)
    return values[0] if len(values) == 1 else None


#: the row of a test that left no verdict (not a record/replay test)
_NO_VERDICT = SimpleNamespace(
    verdict=None, reason=None, record_time=None, replay_time=None,
    overhead=None, recorded_icount=None, log_events=None, log_size=None,
    qemu_version=None, location=None, replays=None)


def _verdict(data: Mapping) -> Verdict | None:
    """The verdict in ``data``; None for none, or one it cannot read."""
    try:
        return Verdict.from_dict(dict(data))
    except (TypeError, ValueError):
        return None


def test_row(state: Mapping) -> dict:
    """One summary row from an ``end_test`` state.

    ``icount`` is the recorded icount (the replay's target), ``events``
    the log's event count.
    """
    test_id = state.get("name")
    row = {"test": str(test_id), "status": state.get("status"),
           "time": state.get("time_elapsed"), "logdir": state.get("logdir")}
    data = _verdict_data(state)
    # what the test wrote beside its verdict, else its tags
    for key in ("arch", "machine", "cpu"):
        row[key] = data.get(key)
        if row[key] is None:
            row[key] = _tag(state, key)
    verdict = _verdict(data) or _NO_VERDICT
    row.update(verdict=verdict.verdict, reason=verdict.reason,
               record_time=verdict.record_time,
               replay_time=verdict.replay_time, overhead=verdict.overhead,
               icount=verdict.recorded_icount, events=verdict.log_events,
               log_size=verdict.log_size, qemu_version=verdict.qemu_version,
               location=_where(verdict.location),
               replays=(verdict.replays or {}).get("kind"))
    return row


def _where(location: Mapping | None) -> dict | None:
    """What of a verdict's location the summary keeps."""
    if not location:
        return None
    keys = ("located", "kind", "last_equal_icount", "first_different_icount",
            "recorded_icount", "page_count", "compared", "first_event")
    where = {key: location.get(key) for key in keys}
    where["registers"] = sorted(location.get("registers") or {})
    where["transients"] = len(location.get("transients") or ())
    return where


def _share(icount, total) -> str:
    return f"{100.0 * icount / total:.1f}%" if icount is not None and \
        total else "-"


def where_lines(rows: Iterable[Mapping]) -> list[str]:
    """Where each located failure first went wrong, a line a test."""
    lines = []
    for row in rows:
        where = row.get("location")
        if not where or not where.get("located"):
            continue
        total = where.get("recorded_icount")
        last = where.get("last_equal_icount")
        first = where.get("first_different_icount")
        what = ("state diverged" if where["kind"] == "divergence"
                else "replay failed")
        line = (f"{short_name(row['test'])}: {what} between "
                + ("the start" if last is None else
                   f"icount {last} ({_share(last, total)})")
                + f" and {first} ({_share(first, total)})")
        extra = []
        if where.get("registers"):
            extra.append("registers " + ", ".join(where["registers"][:6]))
        if where.get("page_count"):
            extra.append(f"{where['page_count']} RAM page(s)")
        if where.get("first_event"):
            extra.append(f"first differing event {where['first_event']}")
        if row.get("replays"):
            extra.append(f"replays: {row['replays']}")
        lines.append(line + (f" [{'; '.join(extra)}]" if extra else ""))
    return lines


def short_name(test: str) -> str:
    """``1-tests/x.py:Class.test;variant`` -> ``1-Class.test;variant``."""
    return parse_test_id(test).short


def _fmt(value, spec: str) -> str:
    if value is None:
        return "-"
    try:
        return spec.format(value)
    except (TypeError, ValueError):
        return str(value)


def _size(value) -> str:
    if value is None:
        return "-"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f}{unit}" if unit == "B" else f"{size:.1f}{unit}"
        size /= 1024
    return str(value)


COLUMNS = ("TEST", "ARCH", "MACHINE", "STATUS", "VERDICT", "RECORD",
           "REPLAY", "OVERHEAD", "ICOUNT", "EVENTS", "LOG")


def table_lines(rows: Iterable[Mapping]) -> list[str]:
    """The summary as aligned text lines, a header first."""
    cells = [COLUMNS]
    for row in rows:
        cells.append((
            short_name(row["test"]), row["arch"] or "-",
            row["machine"] or "-", row["status"] or "-",
            row["verdict"] or "-", _fmt(row["record_time"], "{:.2f}s"),
            _fmt(row["replay_time"], "{:.2f}s"),
            _fmt(row["overhead"], "{:.2f}x"), _fmt(row["icount"], "{:d}"),
            _fmt(row["events"], "{:d}"), _size(row["log_size"])))
    widths = [max(len(line[i]) for line in cells)
              for i in range(len(COLUMNS))]
    return ["  ".join(cell.ljust(width) for cell, width
                      in zip(line, widths)).rstrip() for line in cells]


def svg_chart(rows: list[Mapping], title: str = "record vs replay time") \
        -> str:
    """A horizontal bar chart (SVG): record and replay seconds per test."""
    bar, gap, left, right, top = 14, 12, 330, 90, 48
    plot = 520
    longest = max([float(row[key] or 0) for row in rows
                   for key in ("record_time", "replay_time")] + [0.0])
    scale = plot / longest if longest > 0 else 0.0
    height = top + len(rows) * (2 * bar + gap) + 40
    width = left + plot + right
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" '
        f'font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="10" y="20" font-size="15" font-weight="bold">'
        f'{escape(title)}</text>',
        f'<rect x="{left}" y="28" width="12" height="12" fill="#3b75af"/>',
        f'<text x="{left + 16}" y="39">record</text>',
        f'<rect x="{left + 80}" y="28" width="12" height="12" '
        f'fill="#ef8636"/>',
        f'<text x="{left + 96}" y="39">replay</text>',
    ]
    for index, row in enumerate(rows):
        y = top + index * (2 * bar + gap)
        label = short_name(row["test"])
        if len(label) > 46:
            label = label[:45] + "\u2026"
        status = row["verdict"] or row["status"] or ""
        out.append(f'<text x="{left - 6}" y="{y + bar + 4}" '
                   f'text-anchor="end">{escape(label)}</text>')
        out.append(f'<text x="{left - 6}" y="{y + 2 * bar + 2}" '
                   f'text-anchor="end" fill="#666" font-size="10">'
                   f'{escape(str(status))}</text>')
        for offset, key, colour in ((0, "record_time", "#3b75af"),
                                    (bar, "replay_time", "#ef8636")):
            value = row[key]
            length = float(value or 0) * scale
            out.append(f'<rect class="{key[:6]}" x="{left}" '
                       f'y="{y + offset}" '
                       f'width="{length:.1f}" height="{bar - 2}" '
                       f'fill="{colour}"/>')
            out.append(f'<text x="{left + length + 4:.1f}" '
                       f'y="{y + offset + bar - 4}" font-size="10">'
                       f'{_fmt(value, "{:.2f} s")}</text>')
    axis_y = top + len(rows) * (2 * bar + gap)
    out.append(f'<line x1="{left}" y1="{top - 4}" x2="{left}" '
               f'y2="{axis_y}" stroke="black"/>')
    out.append(f'<text x="{left}" y="{axis_y + 16}">0 s</text>')
    out.append(f'<text x="{left + plot}" y="{axis_y + 16}" '
               f'text-anchor="end">{longest:.1f} s</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def summary(job_id: str | None, states: Iterable[Mapping]) -> dict:
    """The JSON document of the summary."""
    rows = [test_row(state) for state in states]
    doc = {"job_id": job_id, "tests": rows}
    versions = matrix.build(rows)
    if versions:
        doc["matrix"] = versions
    return doc


class ReplaySummary(Result):
    """Writes the replay summary of a job (table, JSON, SVG)."""

    name = "replay_summary"
    description = "avocado-rr: replay summary (table, JSON, SVG) of a job"

    def render(self, result, job):
        if not job.config.get(SUMMARY_NAMESPACE, True):
            return
        if job.config.get("run.dry_run.enabled") or not result.tests:
            return
        doc = summary(result.job_unique_id, result.tests)
        json_path = os.path.join(job.logdir, JSON_NAME)
        with open(json_path, "w", encoding="utf-8") as stream:
            json.dump(doc, stream, indent=2, default=str)
        svg_path = os.path.join(job.logdir, SVG_NAME)
        with open(svg_path, "w", encoding="utf-8") as stream:
            stream.write(svg_chart(doc["tests"]))
        LOG_UI.info("REPLAY SUMMARY:")
        for line in table_lines(doc["tests"]):
            LOG_UI.info("  %s", line)
        located = where_lines(doc["tests"])
        if located:
            LOG_UI.info("WHERE THE FAILED REPLAYS FIRST WENT WRONG:")
            for line in located:
                LOG_UI.info("  %s", line)
        if "matrix" in doc:
            LOG_UI.info("QEMU VERSION MATRIX:")
            for line in matrix.table_lines(doc["matrix"]):
                LOG_UI.info("  %s", line)
            matrix_path = os.path.join(job.logdir, MATRIX_SVG_NAME)
            with open(matrix_path, "w", encoding="utf-8") as stream:
                stream.write(matrix.svg(doc["matrix"]))
            LOG_UI.info("REPLAY MATRIX SVG: %s", matrix_path)
        LOG_UI.info("REPLAY JSON: %s", json_path)
        LOG_UI.info("REPLAY SVG : %s", svg_path)
