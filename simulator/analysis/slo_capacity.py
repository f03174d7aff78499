"""The largest load meeting the SLO, per setting, interpolated between sweep points.

Owns the capacity-under-SLO reading of a sweep: for each combination of the
non-load swept keys, walk the load axis upward; the answer lies between the
last point meeting the SLO and the first missing it (or saturated), where the
SLO percentile's latency is linearly interpolated to cross the limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..storage.saved import SavedSweep

PERCENTILE_COLUMNS = {50.0: "p50", 90.0: "p90", 95.0: "p95", 99.0: "p99", 99.9: "p999"}


@dataclass
class SloCapacity:
    """One setting's answer: `max_load` None when even the lightest load misses."""

    setting: dict
    max_load: float | None
    bracket: tuple[float | None, float | None]
    note: str


def slo_metric(sweep: SavedSweep) -> str | None:
    """The latency column the SLO percentile names, e.g. `latency.p99`."""
    name = PERCENTILE_COLUMNS.get(round(sweep.slo_percentile, 3))
    return f"latency.{name}" if name else None


def max_load_per_setting(sweep: SavedSweep, load_key: str) -> list[SloCapacity]:
    """For every setting of the other swept keys, the interpolated largest load."""
    slo_s, metric = sweep.slo_latency_s, slo_metric(sweep)
    if slo_s is None:
        return []
    others = [k for k in sweep.swept if k != load_key]
    settings = list(dict.fromkeys(tuple(r.get(k) for k in others) for r in sweep.rows))
    answers = []
    for values in settings:
        rows = [r for r in sweep.rows if tuple(r.get(k) for k in others) == values]
        rows.sort(key=lambda r: sweep.column(load_key, [r])[0])
        answers.append(_largest(dict(zip(others, values, strict=True)), rows, load_key,
                                slo_s, metric, sweep.slo_percentile))
    return answers


def _meets(row: dict, slo_s: float, metric: str | None, percentile: float) -> bool:
    if row.get("saturated"):
        return False
    if metric and isinstance(row.get(metric), float | int):
        return row[metric] <= slo_s
    attainment = row.get("slo_attainment")
    return attainment is not None and attainment >= percentile / 100


def _largest(setting, rows, load_key, slo_s, metric, percentile) -> SloCapacity:
    previous = None
    for row in rows:
        if not _meets(row, slo_s, metric, percentile):
            if previous is None:
                return SloCapacity(setting, None, (None, float(row[load_key])),
                                   "even the lightest load misses the SLO")
            return SloCapacity(setting, _interpolate(previous, row, load_key, slo_s, metric),
                               (float(previous[load_key]), float(row[load_key])),
                               "interpolated")
        previous = row
    return SloCapacity(setting, float(previous[load_key]), (float(previous[load_key]), None),
                       "every swept load meets the SLO: at least this much")


def _interpolate(good: dict, bad: dict, load_key: str, slo_s: float, metric: str | None):
    x0, x1 = float(good[load_key]), float(bad[load_key])
    y0, y1 = (good.get(metric) if metric else None), (bad.get(metric) if metric else None)
    if not all(isinstance(v, int | float) and math.isfinite(v) for v in (y0, y1)) or y1 <= slo_s:
        return x0  # no latency crossing to interpolate: the last good load is safe
    return x0 + (slo_s - y0) / (y1 - y0) * (x1 - x0)
