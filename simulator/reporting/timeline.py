"""Queue length and batch size over simulated time, from one replication's saved arrays.

Owns the time-weighted averages behind the timeline plot: the queue (arrived,
not yet started, not rejected or timed out) is a step function, averaged over
equal time bins so bursts and the warm-up stay visible.
"""

from __future__ import annotations

import numpy as np

REJECTED, TIMED_OUT = 2, 3


def queue_steps(arrays: dict, replication: int, timeout_s: float | None = None):
    """(event times, queue length after each event) of one replication."""
    mine = arrays["replication"] == replication
    arrival_s, start_s = arrays["arrival_s"][mine], arrays["start_s"][mine]
    outcome = arrays["outcome"][mine]
    entered = outcome != REJECTED
    leave_s = start_s.copy()
    dropped = outcome == TIMED_OUT
    if timeout_s is not None:
        leave_s[dropped & np.isnan(leave_s)] = arrival_s[dropped & np.isnan(leave_s)] + timeout_s
    times = np.concatenate([arrival_s[entered], leave_s[entered & ~np.isnan(leave_s)]])
    steps = np.concatenate([np.ones(int(entered.sum())),
                            -np.ones(int((entered & ~np.isnan(leave_s)).sum()))])
    order = np.argsort(times, kind="stable")
    return times[order], np.cumsum(steps[order])


def time_weighted_bins(times_s: np.ndarray, levels: np.ndarray, end_s: float,
                       bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Bin centres and the time-weighted mean of a step function in each bin."""
    edges = np.linspace(0.0, end_s, bins + 1)
    knots = np.concatenate([[0.0], np.clip(times_s, 0, end_s), [end_s]])
    values = np.concatenate([[0.0], levels])
    area = np.concatenate([[0.0], np.cumsum(values * np.diff(knots))])
    area_at = np.interp(edges, knots, area)
    return (edges[:-1] + edges[1:]) / 2, np.diff(area_at) / np.diff(edges)


def batch_size_bins(arrays: dict, replication: int, end_s: float, bins: int,
                    column: str = "batch_size"):
    """Bin centres and the mean of a per-batch `column` (the size, or `batch_cap`: the
    adaptive policy's cap) over the batches started in each bin (NaN if none)."""
    mine = arrays["batch_replication"] == replication
    start_s, size = arrays["batch_start_s"][mine], arrays[column][mine]
    edges = np.linspace(0.0, end_s, bins + 1)
    which = np.clip(np.digitize(start_s, edges) - 1, 0, bins - 1)
    total = np.bincount(which, weights=size, minlength=bins)
    count = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return (edges[:-1] + edges[1:]) / 2, mean
