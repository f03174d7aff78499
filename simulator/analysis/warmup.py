"""Automatic warm-up truncation: MSER-5 (White 1997; Franklin & White 2008).

Owns `warmup: auto`. A run that starts empty shows an initial transient; MSER
chooses the truncation point d that minimises the standard error of the mean
of what is kept, MSER(d) = sum_{j>d} (Y_j - mean_d)^2 / (m - d)^2, over batch
means Y of 5 consecutive observations, with d restricted to the first half
(a minimum in the second half means the run is too short to tell).
"""

from __future__ import annotations

import numpy as np

from ..sim.records import COMPLETED, ReplicationRecord

BATCH = 5


def mser5_cut(values: np.ndarray) -> int:
    """Number of leading observations to drop from `values` (a multiple of 5)."""
    m = values.size // BATCH
    if m < 4:
        return 0
    means = values[: m * BATCH].reshape(m, BATCH).mean(axis=1)
    tail_sum = np.cumsum(means[::-1])[::-1]
    tail_sq = np.cumsum((means**2)[::-1])[::-1]
    kept = m - np.arange(m)
    mser = (tail_sq - tail_sum**2 / kept) / kept**2
    best = int(np.argmin(mser[: m // 2 + 1]))
    return best * BATCH


def auto_warmup_cuts_s(records: list[ReplicationRecord]) -> list[float]:
    """One MSER-5 cut for all replications, as a time in each replication.

    The series is the latency of the i-th completed request averaged across the
    replications (Hoad, Robinson & Davies 2010 recommend MSER-5 on data averaged
    over replications: averaging tames the autocorrelated noise that makes a
    single run's cut erratic). The cut keeps the same number of requests out of
    every replication.
    """
    series = [_latencies_in_arrival_order(r) for r in records]
    length = min(s.size for s, _ in series)
    if length == 0:
        return [0.0] * len(records)
    averaged = np.mean([s[:length] for s, _ in series], axis=0)
    cut = mser5_cut(averaged)
    return [float(arrivals[cut]) if cut else 0.0 for _, arrivals in series]


def _latencies_in_arrival_order(record: ReplicationRecord) -> tuple[np.ndarray, np.ndarray]:
    done = np.flatnonzero(record.outcome == COMPLETED)
    return record.finish_s[done] - record.arrival_s[done], record.arrival_s[done]
