"""Measured service times per batch size: the `service.samples_file` CSV and its resampling.

Owns the samples file of the `empirical` service distribution: a CSV with a
header and two columns, `batch_size` and `service_s` (one measured batch per
row, seconds; `batchsim calibrate --empirical` writes one). A batch of size k
takes `mean_s(k) x f`, with `f` a measured time at the measured size nearest
to k (the smaller on a tie) divided by the mean of that size's times, drawn
uniformly with replacement. With no `table`, `mean_s(k)` is the samples' mean
at k (interpolated between measured sizes), so a size that was measured is
resampled exactly as measured.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ..model.config import FieldError

FIELD = "service.samples_file"
COLUMNS = ("batch_size", "service_s")


def read_samples(path: Path) -> dict[int, np.ndarray]:
    """{batch size: measured times (s)} from a samples CSV; FieldError on any problem."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise FieldError(FIELD, "samples file not found", str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FieldError(FIELD, f"cannot read samples file: {exc}", str(path)) from None
    rows = [row for row in csv.reader(text.splitlines()) if row and row[0].strip()]
    if not rows or [c.strip() for c in rows[0][:2]] != list(COLUMNS):
        raise FieldError(FIELD, f"{path}: the first row must be the header "
                         f"{','.join(COLUMNS)}", rows[0] if rows else "")
    by_size: dict[int, list[float]] = {}
    for line, row in enumerate(rows[1:], start=2):
        size, time_s = _row(path, line, row)
        by_size.setdefault(size, []).append(time_s)
    if not by_size:
        raise FieldError(FIELD, f"{path}: no samples after the header", str(path))
    return {size: np.asarray(times) for size, times in sorted(by_size.items())}


def _row(path: Path, line: int, row: list[str]) -> tuple[int, float]:
    if len(row) < 2:
        raise FieldError(FIELD, f"{path} line {line}: expected batch_size,service_s", row)
    try:
        size = int(row[0])
    except ValueError:
        raise FieldError(FIELD, f"{path} line {line}: batch_size is not an integer",
                         row[0]) from None
    try:
        time_s = float(row[1])
    except ValueError:
        raise FieldError(FIELD, f"{path} line {line}: service_s is not a number",
                         row[1]) from None
    if size < 1:
        raise FieldError(FIELD, f"{path} line {line}: batch_size must be >= 1", size)
    if not np.isfinite(time_s) or time_s <= 0:
        raise FieldError(FIELD, f"{path} line {line}: service_s must be a finite time > 0",
                         row[1])
    return size, time_s


def sample_means(samples: dict[int, np.ndarray]) -> dict[int, float]:
    return {size: float(times.mean()) for size, times in samples.items()}


def factors_by_size(samples: dict[int, np.ndarray], max_size: int) -> list[np.ndarray]:
    """For sizes 0..max_size: the normalised (mean 1) times of the nearest measured size."""
    measured = np.array(sorted(samples))
    normalised = {size: times / times.mean() for size, times in samples.items()}
    factors = [np.ones(1)]
    for size in range(1, max_size + 1):
        nearest = int(measured[np.argmin(np.abs(measured - size))])
        factors.append(normalised[nearest])
    return factors


def write_samples(path: Path, sizes: np.ndarray, times_s: np.ndarray) -> None:
    """Write a samples CSV (sorted by batch size, measurement order kept within a size)."""
    order = np.argsort(sizes, kind="stable")
    lines = [",".join(COLUMNS)]
    lines += [f"{int(sizes[i])},{times_s[i]:.9g}" for i in order]
    path.write_text("\n".join(lines) + "\n")
