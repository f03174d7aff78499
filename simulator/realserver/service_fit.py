"""Measured times -> scenario entries: the service table and lognormal delays.

Owns how the occupancies `measure.py` found become `service.table` (a size's own
mean and cv once seen often, else its median scaled by the pooled noise shape;
larger sizes from a line through the tile-aligned measured ones), and how a set
of measured delays becomes a `{mean, distribution, cv}` delay section.
"""

from __future__ import annotations

import math

import numpy as np

MIN_SAMPLES = 5
"""A batch size seen fewer times than this gets no table entry of its own."""
SAMPLES_OF_ITS_OWN = 50
"""A batch size seen this often gets its own sample mean and cv (see service_table)."""
MIN_DELAY_S = 1e-7


def delay_section(values_s: np.ndarray) -> dict | None:
    """A lognormal `{mean, distribution, cv}` delay with the mean and the median of
    `values_s` (None if the delays are about 0).

    Measured overheads are mostly small with rare long stalls (a descheduled
    process). Matching the mean keeps the mean latency right; matching the median
    (rather than the cv, which the stalls inflate) keeps the body right. When half
    the values are 0 (or the mean is not above the median) there is no such
    lognormal: then mean and cv are matched.
    """
    if values_s.size == 0 or values_s.mean() < MIN_DELAY_S:
        return None
    mean, median = float(values_s.mean()), float(np.median(values_s))
    if median > MIN_DELAY_S and mean > median * 1.0001:
        cv = math.sqrt(math.expm1(2 * math.log(mean / median)))
    else:
        cv = float(values_s.std() / mean) if values_s.size > 1 else 0.0
    if cv < 1e-3:
        return {"mean": _round(mean)}
    return {"mean": _round(mean), "distribution": "lognormal", "cv": round(min(cv, 10.0), 4)}


def service_table(sizes: np.ndarray, occupancy_s: np.ndarray, max_batch_size: int,
                  with_cv: bool = True) -> tuple[dict[int, dict | float], list[str]]:
    """Per-size mean (and cv) of the occupancy, extended linearly up to `max_batch_size`.

    A size seen `SAMPLES_OF_ITS_OWN` times or more gets its own sample mean and cv. A
    size seen fewer times gets its median times the pooled mean/median ratio, and the
    pooled cv, of every size's times divided by that size's median: a rare stall (the
    process descheduled for tens of ms) is a property of the machine, not of the batch
    size it happened to hit, and two of them among a dozen batches of one size would
    otherwise make that size look several times slower and noisier.
    """
    medians = {int(k): float(np.median(occupancy_s[sizes == k])) for k in np.unique(sizes)
               if (sizes == k).sum() >= MIN_SAMPLES}
    if not medians:
        raise ValueError(f"no batch size was seen {MIN_SAMPLES} times or more")
    largest = max(medians)
    ratio, pooled_cv = _noise_shape(sizes, occupancy_s, medians)
    table: dict[int, dict | float] = {}
    for size, median in medians.items():
        times = occupancy_s[sizes == size]
        if times.size >= SAMPLES_OF_ITS_OWN:
            mean, cv = float(times.mean()), float(times.std() / times.mean())
        else:
            mean, cv = median * ratio, pooled_cv
        table[size] = {"mean": _round(mean), "cv": round(cv, 4)} if with_cv else _round(mean)
    notes = []
    if max_batch_size > largest:
        through = _aligned_sizes(list(medians), max_batch_size)
        base, per_item = _line(np.array(through, dtype=float),
                               np.array([float(table_mean(table[k])) for k in through]))
        mean = _round(max(base + per_item * max_batch_size, 1e-9))
        table[max_batch_size] = {"mean": mean, "cv": round(pooled_cv, 4)} if with_cv else mean
        notes.append(f"sizes above {largest} were never seen {MIN_SAMPLES} times: size "
                     f"{max_batch_size} extrapolated from the line {base * 1e3:.4g} ms + "
                     f"{per_item * 1e3:.4g} ms/request through the sizes "
                     f"{', '.join(map(str, through))}")
    return dict(sorted(table.items())), notes


def table_mean(entry: dict | float) -> float:
    return entry["mean"] if isinstance(entry, dict) else entry


def _aligned_sizes(measured: list[int], target: int) -> list[int]:
    """The measured sizes to extrapolate `target` from: those sharing its largest
    power-of-two factor (up to 8) with at least two of them, the largest half of them
    (at least two). BLAS and GPU kernels work in tiles, so sizes that fill whole tiles
    run faster than their neighbours (on the testbed, 3, 5 and 7 are slower than 4, 6
    and 8): a line through every size would overestimate an aligned target."""
    for tile in (8, 4, 2, 1):
        aligned = sorted(k for k in measured if k % tile == 0) if target % tile == 0 else []
        if len(aligned) >= 2:
            return aligned[-max(2, len(aligned) // 2):]
    return sorted(measured)


def _noise_shape(sizes: np.ndarray, occupancy_s: np.ndarray,
                 medians: dict[int, float]) -> tuple[float, float]:
    """Mean and cv of every batch's occupancy divided by the median of its size (sizes
    in `medians`)."""
    known = np.isin(sizes, list(medians))
    scale = np.array([medians[int(k)] for k in sizes[known]])
    relative = occupancy_s[known] / scale
    return float(relative.mean()), float(relative.std() / relative.mean())


def _line(sizes: np.ndarray, times_s: np.ndarray) -> tuple[float, float]:
    """Least-squares base and per-item time through (size, time) points."""
    if np.unique(sizes).size < 2:
        return float(times_s.mean()), 0.0
    per_item, base = np.polyfit(sizes, times_s, 1)
    return float(base), float(per_item)


def _round(seconds: float) -> float:
    return float(f"{seconds:.6g}")
