"""Fitting a scenario to real per-request logs: `batchsim calibrate`.

Owns how log stamps become scenario parameters (the README's "Predicting a
real server" section explains the model):

- occupancy of a batch = `batch_finish - batch_start` (the model call) plus the
  server's turnaround, the median gap between a batch's finish and the start
  of the next one when that batch was cut straight away from requests read
  during the previous (reading new requests, sending the answer);
- `service.table`: mean and cv of the occupancy per batch size (sizes seen
  fewer than `min_samples` times are interpolated by the table; sizes above
  the largest seen, up to `max_batch_size`, come from a least-squares line);
  or, with `empirical`, the occupancies themselves in a samples file;
- `service.overhead.before`: from the client's scheduled send to the batcher
  seeing the request, for requests that reached an idle server (the others
  waited for a busy worker, which the simulation models itself), plus the
  median dispatch time of a batch cut from idle;
- `service.overhead.after`: from the model's finish to the client reading the
  answer, minus the turnaround already counted in the occupancy (clipped at 0).
Delays are fitted as lognormal by their mean and cv.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .servelog import ServeLog

MIN_SAMPLES = 5
"""A batch size seen fewer times than this gets no table entry of its own."""
MIN_DELAY_S = 1e-7


@dataclass
class Fit:
    """What calibration measured, before it becomes a scenario."""

    sizes: np.ndarray          # per batch
    occupancy_s: np.ndarray    # per batch
    turnaround_s: float
    dispatch_s: float
    before_s: np.ndarray
    after_s: np.ndarray
    notes: list[str] = field(default_factory=list)


def measure(logs: list[ServeLog]) -> Fit:
    """Pool the batches and request delays of every log."""
    sizes, model_s, gaps, dispatch, before, after = [], [], [], [], [], []
    for log in logs:
        start, finish, size, from_idle = _batches(log)
        sizes.append(size)
        model_s.append(finish - start)
        back_to_back = ~from_idle[1:]
        gaps.append((start[1:] - finish[:-1])[back_to_back])
        dispatch.append(_dispatch_s(log, from_idle))
    turnaround_s = _median(np.concatenate(gaps))
    dispatch_s = _median(np.concatenate(dispatch))
    notes = [f"turnaround {turnaround_s * 1e6:.0f} us (median of "
             f"{sum(g.size for g in gaps)} back-to-back gaps), dispatch from idle "
             f"{dispatch_s * 1e6:.0f} us"]
    for log in logs:
        answered = log.answered
        if log.has("enqueue_s") and log.has("idle_arrival"):
            idle = answered & (log["idle_arrival"] == 1)
            before.append(log["enqueue_s"][idle] - log["scheduled_s"][idle] + dispatch_s)
        after.append(log["received_s"][answered] - log["batch_finish_s"][answered]
                     - turnaround_s)
    before_s = np.concatenate(before) if before else np.zeros(0)
    if not before:
        notes.append("no enqueue_s/idle_arrival columns: overhead.before not fitted")
    return Fit(np.concatenate(sizes), np.concatenate(model_s) + turnaround_s, turnaround_s,
               dispatch_s, np.clip(before_s, 0, None),
               np.clip(np.concatenate(after), 0, None), notes)


def _batches(log: ServeLog) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Batches in start order, and whether each was cut with an idle-arrival in it."""
    start, finish, size = log.batches()
    from_idle = np.ones(start.size, dtype=bool)
    if log.has("idle_arrival"):
        answered = log.answered
        batch_ids = np.unique(log["batch_id"][answered])
        idle_ids = np.unique(log["batch_id"][answered & (log["idle_arrival"] == 1)])
        order = np.argsort(_first_start(log, batch_ids), kind="stable")
        from_idle = np.isin(batch_ids[order], idle_ids)
    return start, finish, size, from_idle


def _first_start(log: ServeLog, batch_ids: np.ndarray) -> np.ndarray:
    answered = log.answered
    ids = log["batch_id"][answered]
    start = log["batch_start_s"][answered]
    starts = np.empty(batch_ids.size)
    starts[np.searchsorted(batch_ids, ids)] = start
    return starts


def _dispatch_s(log: ServeLog, from_idle: np.ndarray) -> np.ndarray:
    """Start minus the last enqueue, of batches cut from idle (only logs with delay 0)."""
    delay = log.setting("max_queue_delay_s")
    if not log.has("enqueue_s") or (delay is not None and delay > 0):
        return np.zeros(0)
    answered = log.answered
    ids = log["batch_id"][answered]
    batch_ids = np.unique(ids)
    last = np.full(batch_ids.size, -np.inf)
    np.maximum.at(last, np.searchsorted(batch_ids, ids), log["enqueue_s"][answered])
    starts = _first_start(log, batch_ids)
    order = np.argsort(starts, kind="stable")
    return (starts - last)[order][from_idle]


def _median(values: np.ndarray) -> float:
    return float(np.median(values)) if values.size else 0.0


def delay_section(values_s: np.ndarray) -> dict | None:
    """A `{mean, distribution: lognormal, cv}` delay fitted to `values_s` (None if ~0)."""
    if values_s.size == 0 or values_s.mean() < MIN_DELAY_S:
        return None
    mean = float(values_s.mean())
    cv = float(values_s.std() / mean) if values_s.size > 1 else 0.0
    if cv < 1e-3:
        return {"mean": _round(mean)}
    return {"mean": _round(mean), "distribution": "lognormal", "cv": round(min(cv, 10.0), 4)}


def service_table(sizes: np.ndarray, occupancy_s: np.ndarray, max_batch_size: int,
                  with_cv: bool = True) -> tuple[dict[int, dict | float], list[str]]:
    """Per-size mean (and cv) of the occupancy, extended linearly up to `max_batch_size`."""
    table: dict[int, dict | float] = {}
    counts = {}
    for size in np.unique(sizes):
        times = occupancy_s[sizes == size]
        counts[int(size)] = times.size
        if times.size < MIN_SAMPLES:
            continue
        mean = float(times.mean())
        table[int(size)] = ({"mean": _round(mean), "cv": round(float(times.std() / mean), 4)}
                            if with_cv else _round(mean))
    notes = []
    if not table:
        raise ValueError(f"no batch size was seen {MIN_SAMPLES} times or more")
    largest = max(table)
    if max_batch_size > largest:
        base, per_item = _line(sizes, occupancy_s)
        mean = max(base + per_item * max_batch_size, 1e-9)
        cv = _pooled_cv(table) if with_cv else None
        table[max_batch_size] = {"mean": _round(mean), "cv": cv} if with_cv else _round(mean)
        notes.append(f"sizes above {largest} were never seen {MIN_SAMPLES} times: size "
                     f"{max_batch_size} extrapolated from the line {base * 1e3:.4g} ms + "
                     f"{per_item * 1e3:.4g} ms/request")
    return dict(sorted(table.items())), notes


def _line(sizes: np.ndarray, times_s: np.ndarray) -> tuple[float, float]:
    if np.unique(sizes).size < 2:
        return float(times_s.mean()), 0.0
    per_item, base = np.polyfit(sizes.astype(float), times_s, 1)
    return float(base), float(per_item)


def _pooled_cv(table: dict) -> float:
    cvs = [entry["cv"] for entry in table.values() if isinstance(entry, dict)]
    return round(float(np.mean(cvs)), 4) if cvs else 0.0


def _round(seconds: float) -> float:
    return float(f"{seconds:.6g}")
