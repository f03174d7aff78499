"""From replication records to the summary: percentiles, rates and 95% CIs.

Owns every statistic batchsim prints. Only requests that arrive after the
warm-up count. Point estimates pool all replications' requests; each 95% CI
half-width is a Student t interval over the per-replication estimates
(replications are independent, so their spread is honest; within a run,
successive latencies are correlated and would understate it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..sim.records import COMPLETED, FAILED, IN_FLIGHT, REJECTED, TIMED_OUT, ReplicationRecord
from .breakdown import breakdowns
from .percentiles import percentiles
from .student_t import t_quantile

PERCENTILES = {"p50": 50.0, "p90": 90.0, "p95": 95.0, "p99": 99.0, "p999": 99.9}
DISTRIBUTION_KEYS = ("mean", *PERCENTILES, "max")
CI_KEYS = ("mean", *PERCENTILES)
SATURATION_SHARE = 0.02
"""Saturated: backlog growth plus lost requests exceed this share of the window's arrivals."""


def t_half_width(values: Sequence[float], confidence: float = 0.95) -> float | None:
    """Half-width of the Student t confidence interval of the mean of `values`."""
    data = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if data.size < 2:
        return None
    quantile = t_quantile(0.5 + confidence / 2, data.size - 1)
    return quantile * float(data.std(ddof=1)) / math.sqrt(data.size)


def distribution(samples: np.ndarray, scratch: bool = False) -> dict[str, float | None]:
    """Mean, percentiles and max of `samples` (all None when there are none).

    With `scratch`, `samples` is reordered in place (no copy is made for the percentiles).
    """
    if samples.size == 0:
        return dict.fromkeys(DISTRIBUTION_KEYS)
    stats = {"mean": float(samples.mean())}  # before any reordering: the sum's order counts
    top = float(samples.max())
    values = percentiles(samples, list(PERCENTILES.values()), scratch)
    stats.update({key: float(v) for key, v in zip(PERCENTILES, values, strict=True)})
    stats["max"] = top
    return stats


class WindowView:
    """The post-warm-up requests and batches of one replication, as arrays."""

    def __init__(self, record: ReplicationRecord):
        self.record = record
        self.window_s = record.end_s - record.warmup_s
        self.in_window = record.arrival_s >= record.warmup_s
        self.arrivals = int(np.count_nonzero(self.in_window))
        self.latency_s = _since_arrival(record, record.batch_finish_s,
                                        self.in_window & (record.outcome == COMPLETED))
        self.wait_s = _since_arrival(record, record.batch_start_s,
                                     self.in_window & _started(record))
        if record.has_client_path:
            self._client_clock()

    def _client_clock(self) -> None:
        """Latency, arrivals and throughput of user requests, from client send to answer
        received; `wait_s` stays the servers' queueing time of each attempt."""
        rec = self.record
        sent = rec.sent_s >= rec.warmup_s
        done = sent & (rec.client_outcome == COMPLETED)
        received_s = rec.received_s
        self.latency_s = received_s[done] - rec.sent_s[done]
        self.arrivals = int(sent.sum())
        self.user_in_window = sent
        answered = (rec.client_outcome == COMPLETED) & (received_s >= rec.warmup_s)
        self.answers_in_window = int(answered.sum())

    def throughput_rps(self) -> float:
        if self.record.has_client_path:  # answers received in the window
            return self.answers_in_window / self.window_s
        finish_s = self.record.batch_finish_s
        in_window = (finish_s >= self.record.warmup_s) & (finish_s <= self.record.end_s)
        return float(self.record.batch_size[in_window].sum()) / self.window_s

    def within_slo(self, slo_latency_s: float) -> int:
        return int((self.latency_s <= slo_latency_s).sum())

    def utilization(self) -> float:
        rec = self.record
        finish_s = np.where(np.isnan(rec.batch_finish_s), rec.end_s, rec.batch_finish_s)
        busy_s = np.clip(np.minimum(finish_s, rec.end_s)
                         - np.maximum(rec.batch_start_s, rec.warmup_s), 0.0, None)
        return float(busy_s.sum()) / (rec.servers * self.window_s)

    def window_batches(self) -> np.ndarray:
        rec = self.record
        return rec.batch_size[rec.batch_start_s >= rec.warmup_s]

    def backlog_at(self, time_s: float) -> int:
        """Requests admitted before `time_s` and not yet finished or dropped then."""
        rec = self.record
        outcome = rec.outcome
        unresolved = (outcome != COMPLETED) & (outcome != REJECTED)
        if rec.timeout_s is not None:  # a timed-out request left the queue at its deadline
            timed_out = outcome == TIMED_OUT
            unresolved &= ~timed_out | (rec.arrival_s + rec.timeout_s >= time_s)
        finished_late = np.append(rec.batch_finish_s >= time_s, False)[rec.batch]
        unresolved |= finished_late & (outcome == COMPLETED)
        return int(np.count_nonzero(unresolved & (rec.arrival_s < time_s)))

    def network(self) -> dict:
        """Attempts of the user requests sent in the window (with `network:`)."""
        rec, users = self.record, self.user_in_window
        attempts = rec.attempts[users]
        answered = rec.delivery[users] >= 0
        late = self._late_responses(users)
        return {"requests": int(users.sum()), "attempts": int(attempts.sum()),
                "lost_attempts": int(attempts.sum() - answered.sum()),
                "failed": int((rec.client_outcome[users] == FAILED).sum()),
                "late_responses": late}

    def _late_responses(self, users: np.ndarray) -> int:
        """Answers received more than network.timeout after their attempt was sent."""
        rec = self.record
        timeout_s = rec.network_timeout_s
        if timeout_s is None:
            return 0
        took_s = rec.received_s[users] - rec.last_sent_s[users]
        return int((took_s > timeout_s).sum())

    def lost(self) -> int:
        outcome = self.record.outcome[self.in_window]
        return int(((outcome == REJECTED) | (outcome == TIMED_OUT)).sum())


CHUNK = 1 << 16
"""Requests handled per numpy call where a full-length temporary would cost memory."""


def _started(record: ReplicationRecord) -> np.ndarray:
    """Requests whose batch started (their start time is not NaN)."""
    started = record.batch >= 0
    no_start = np.isnan(record.batch_start_s)
    if no_start.any():
        started &= ~np.append(no_start, True)[record.batch]
    return started


def _since_arrival(record: ReplicationRecord, per_batch_s: np.ndarray,
                   keep: np.ndarray) -> np.ndarray:
    """`per_batch_s[batch] - arrival_s` of the requests in `keep` (NaN where a kept request
    has no batch), computed CHUNK requests at a time: only the result is full-sized."""
    padded = np.append(per_batch_s.astype(np.float64, copy=False), np.nan)  # batch -1 -> NaN
    out = np.empty(int(np.count_nonzero(keep)))
    done = 0
    for low in range(0, keep.size, CHUNK):
        mine = keep[low:low + CHUNK]
        batch = np.maximum(record.batch[low:low + CHUNK][mine], -1)
        np.subtract(padded[batch], record.arrival_s[low:low + CHUNK][mine],
                    out=out[done:done + batch.size])
        done += batch.size
    return out


def replication_summary(view: WindowView, slo_latency_s: float | None,
                        scratch: bool = False) -> dict:
    """Per-replication estimates (the inputs of the CI half-widths); `scratch` lets the
    percentiles reorder the view's latency and wait arrays in place."""
    record = view.record
    within = view.within_slo(slo_latency_s) if slo_latency_s is not None else None
    return {
        "latency": distribution(view.latency_s, scratch),
        "wait": distribution(view.wait_s, scratch),
        "throughput": view.throughput_rps(),
        "offered_rate": view.arrivals / view.window_s,
        "goodput": None if within is None else within / view.window_s,
        "slo_attainment": None if within is None else within / max(view.arrivals, 1),
        "utilization": view.utilization(),
        "batch_size_mean": _mean_or_none(view.window_batches()),
        "backlog_end": int((record.outcome == IN_FLIGHT).sum()),
        "backlog_growth": view.backlog_at(record.end_s) - view.backlog_at(record.warmup_s),
        "lost": view.lost(),
        "window_arrivals": view.arrivals,
    }


def summarize(records: Sequence[ReplicationRecord], slo_latency_s: float | None) -> dict:
    """The run summary: pooled estimates, t half-widths over replications, counts."""
    views = [WindowView(r) for r in records]
    pooled = None if len(views) == 1 else {  # pooled before the per-replication reordering
        key: distribution(np.concatenate([getattr(v, f"{key}_s") for v in views]), True)
        for key in ("latency", "wait")}
    per_rep = [replication_summary(v, slo_latency_s, scratch=True) for v in views]
    latency, wait = (dict(per_rep[0][k]) if pooled is None else pooled[k]
                     for k in ("latency", "wait"))
    window_s = sum(v.window_s for v in views)
    batches = np.concatenate([v.window_batches() for v in views])
    counts = _summed_counts(records)
    summary = {
        "requests": counts,
        "measured_requests": int(sum(v.latency_s.size for v in views)),
        "latency": latency,
        "latency_ci95": _ci(per_rep, "latency"),
        "wait": wait,
        "wait_ci95": _ci(per_rep, "wait"),
        "offered_rate": sum(v.arrivals for v in views) / window_s,
        "throughput": sum(v.throughput_rps() * v.window_s for v in views) / window_s,
        "throughput_ci95": t_half_width([p["throughput"] for p in per_rep]),
        **_slo_figures(per_rep, views, slo_latency_s, window_s),
        "saturated": _saturated(per_rep),
        "backlog_end": float(np.mean([p["backlog_end"] for p in per_rep])),
        "batch_size": {"mean": _mean_or_none(batches), "histogram": _histogram(batches)},
        "batch_size_ci95": t_half_width([p["batch_size_mean"] for p in per_rep]),
        "utilization": sum(p["utilization"] * v.window_s for p, v in zip(per_rep, views,
                                                                           strict=True)) / window_s,
        "utilization_ci95": t_half_width([p["utilization"] for p in per_rep]),
        "per_replication": [_compact(p) for p in per_rep],
    }
    if records and records[0].attempts is not None:
        summary["network"] = network_summary(views)
    summary.update(breakdowns(records, slo_latency_s))
    return summary


def network_summary(views: Sequence[WindowView]) -> dict:
    """Retries in the books: attempts per user request (with its CI), losses, failures."""
    per_rep = [v.network() for v in views]
    total = {key: sum(p[key] for p in per_rep) for key in per_rep[0]}
    ratio = [p["attempts"] / p["requests"] for p in per_rep if p["requests"]]
    return {**total, "attempts_per_request": total["attempts"] / max(total["requests"], 1),
            "attempts_per_request_ci95": t_half_width(ratio)}


def _slo_figures(per_rep, views, slo_latency_s, window_s) -> dict:
    if slo_latency_s is None:
        return {"goodput": None, "goodput_ci95": None, "slo_attainment": None,
                "slo_attainment_ci95": None}
    within = sum(v.within_slo(slo_latency_s) for v in views)
    arrivals = sum(v.arrivals for v in views)
    return {
        "goodput": within / window_s,
        "goodput_ci95": t_half_width([p["goodput"] for p in per_rep]),
        "slo_attainment": within / max(arrivals, 1),
        "slo_attainment_ci95": t_half_width([p["slo_attainment"] for p in per_rep]),
    }


def _ci(per_rep: list[dict], key: str) -> dict[str, float | None]:
    return {stat: t_half_width([p[key][stat] for p in per_rep]) for stat in CI_KEYS}


def _saturated(per_rep: list[dict]) -> bool:
    growth = sum(max(p["backlog_growth"], 0) + p["lost"] for p in per_rep)
    arrivals = sum(p["window_arrivals"] for p in per_rep)
    return growth > max(20, SATURATION_SHARE * arrivals)


def _summed_counts(records: Sequence[ReplicationRecord]) -> dict[str, int]:
    total: dict[str, int] = {}
    for record in records:
        for key, value in record.counts().items():
            total[key] = total.get(key, 0) + value
    return total


def _histogram(sizes: np.ndarray) -> dict[str, int]:
    if sizes.size == 0:
        return {}
    counts = np.bincount(sizes)
    return {str(k): int(c) for k, c in enumerate(counts) if c}


def _mean_or_none(values: np.ndarray) -> float | None:
    return float(values.mean()) if values.size else None


def _compact(per_rep: dict) -> dict:
    """The per-replication figures kept in summary.json (for transparency)."""
    return {
        "latency": per_rep["latency"], "wait": per_rep["wait"],
        "throughput": per_rep["throughput"], "goodput": per_rep["goodput"],
        "slo_attainment": per_rep["slo_attainment"], "utilization": per_rep["utilization"],
        "batch_size_mean": per_rep["batch_size_mean"], "backlog_end": per_rep["backlog_end"],
    }
