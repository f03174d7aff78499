"""The tidy sweep table: one row per point, swept keys then flattened summary metrics.

Owns how a run summary becomes a CSV row (`latency.p99`, `latency_ci95.p99`,
`requests.rejected`, ...) and the column order, so `sweep.csv` is the same
bytes whatever order the points finished in.
"""

from __future__ import annotations

import csv
import io
import math

SKIPPED = ("per_replication", "warnings", "meta", "warmup_auto", "precision")
"""Summary entries that are not one number per point."""
HISTOGRAM = "batch_size.histogram"


def flatten(summary: dict, prefix: str = "") -> dict[str, object]:
    """Nested summary -> {dotted.key: scalar}; lists and the histogram left out."""
    row: dict[str, object] = {}
    for key, value in summary.items():
        name = f"{prefix}{key}"
        if (not prefix and key in SKIPPED) or name == HISTOGRAM or isinstance(value, list):
            continue
        if isinstance(value, dict):
            row.update(flatten(value, f"{name}."))
        else:
            row[name] = value
    return row


def point_row(point_id: str, overrides: dict, summary: dict) -> dict[str, object]:
    """The CSV row of one point: its id, swept values, then every metric."""
    return {"point": point_id, **overrides, **flatten(summary)}


def table_csv(rows: list[dict[str, object]]) -> str:
    """Rows as CSV text; columns in first-seen order, missing cells empty."""
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in row.items()})
    return buffer.getvalue()


def _cell(value: object) -> object:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value
