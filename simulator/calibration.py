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
- `service.overhead.before`: from the client's scheduled send to the request's
  arrival at the server (`arrival_s`, a kernel stamp; without it, to the
  batcher reading it, for requests that reached an idle server only);
- wake-up: how long after the dispatch rule made it due a batch cut from idle
  starts (the idle server's wake-up; requests arriving meanwhile join it, so
  it acts as extra `max_queue_delay`, where the scenario carries its median);
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
    wakeup_s: float
    before_s: np.ndarray
    after_s: np.ndarray
    notes: list[str] = field(default_factory=list)


def measure(logs: list[ServeLog]) -> Fit:
    """Pool the batches and request delays of every log."""
    sizes, model_s, gaps, wakeups, before, after = [], [], [], [], [], []
    for log in logs:
        start, finish, size, from_idle, due = _batches(log)
        sizes.append(size)
        model_s.append(finish - start)
        gaps.append((start[1:] - finish[:-1])[~from_idle[1:]])
        wakeups.append(np.clip(start - due, 0, None)[from_idle])
        before.append(_before_s(log))
    turnaround_s = _median(np.concatenate(gaps))
    wakeup_s = _median(np.concatenate(wakeups))
    notes = [f"turnaround {turnaround_s * 1e6:.0f} us (median of "
             f"{sum(g.size for g in gaps)} back-to-back gaps), wake-up {wakeup_s * 1e6:.0f} us "
             f"(median over {sum(w.size for w in wakeups)} batches cut from idle)"]
    for log in logs:
        answered = log.answered
        after.append(log["received_s"][answered] - log["batch_finish_s"][answered]
                     - turnaround_s)
    return Fit(np.concatenate(sizes), np.concatenate(model_s) + turnaround_s, turnaround_s,
               wakeup_s, np.clip(np.concatenate(before), 0, None),
               np.clip(np.concatenate(after), 0, None), notes)


def _before_s(log: ServeLog) -> np.ndarray:
    """Scheduled send -> arrival at the server (kernel stamp), or, without `arrival_s`,
    -> enqueue for requests that reached an idle server."""
    answered = log.answered
    if log.has("arrival_s"):
        return log["arrival_s"][answered] - log["scheduled_s"][answered]
    if log.has("enqueue_s") and log.has("idle_arrival"):
        idle = answered & (log["idle_arrival"] == 1)
        return log["enqueue_s"][idle] - log["scheduled_s"][idle]
    return np.zeros(0)


def _batches(log: ServeLog):
    """Per batch in start order: start, finish, size, whether it was cut from idle
    (holds a request that reached an idle server) and when the dispatch rule made it
    due (oldest arrival + max_queue_delay, or the arrival that filled it)."""
    answered = log.answered
    ids = log["batch_id"][answered]
    batch_ids, first = np.unique(ids, return_index=True)
    index = np.searchsorted(batch_ids, ids)
    rows = np.flatnonzero(answered)[first]
    start = log["batch_start_s"][rows]
    finish = log["batch_finish_s"][rows]
    size = log["batch_size"][rows].astype(np.int64)
    from_idle = np.ones(batch_ids.size, dtype=bool)
    if log.has("idle_arrival"):
        from_idle[:] = False
        np.logical_or.at(from_idle, index, log["idle_arrival"][answered] == 1)
    arrival = log["arrival_s" if log.has("arrival_s") else "scheduled_s"][answered]
    oldest = np.full(batch_ids.size, np.inf)
    newest = np.full(batch_ids.size, -np.inf)
    np.minimum.at(oldest, index, arrival)
    np.maximum.at(newest, index, arrival)
    delay = log.setting("max_queue_delay_s") or 0.0
    limit = log.setting("max_batch_size", int)
    due = oldest + delay
    if limit:
        due = np.where(size >= limit, np.minimum(due, newest), due)
    if not log.has("arrival_s"):
        from_idle[:] = False  # no server-side arrival stamp: wake-up not measurable
    order = np.argsort(start, kind="stable")
    return start[order], finish[order], size[order], from_idle[order], due[order]


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
