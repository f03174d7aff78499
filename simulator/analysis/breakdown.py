"""Per-replica and per-class figures: the summary split by the router's and the classes' groups.

Owns `per_replica` (load imbalance: each replica's share of arrivals, its
utilisation, latency and wait) and `per_class` (each class's latency, wait,
losses, and goodput and SLO attainment against the class's own SLO, else the
scenario's). Pools every replication's post-warm-up requests like `metrics`.
Only records from the fleet model carry the group arrays; others add nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..sim.records import COMPLETED, REJECTED, TIMED_OUT, ReplicationRecord
from .percentiles import percentiles

GROUP_PERCENTILES = {"p50": 50.0, "p99": 99.0}


def breakdowns(records: Sequence[ReplicationRecord], slo_latency_s: float | None) -> dict:
    """`{"per_replica": [...]}` and/or `{"per_class": {...}}` when the records have groups."""
    out = {}
    if records and records[0].replica is not None:
        count = _replica_count(records)
        pooled = _Pooled.groups(records, lambda rec: rec.replica, count)
        out["per_replica"] = [_replica_figures(records, r, pooled[r]) for r in range(count)]
    if records and records[0].scaling is not None:
        out["autoscaling"] = _scaling_figures(records)
    if records and records[0].request_class is not None:
        names, slos = records[0].class_names, records[0].class_slo_s
        pooled = _Pooled.groups(records, lambda rec: rec.request_class, len(names))
        out["per_class"] = {
            name: _class_figures(pooled[k], slos[k] if slos[k] is not None else slo_latency_s)
            for k, name in enumerate(names)}
    return out


def _replica_count(records) -> int:
    return records[0].replicas


class _Pooled:
    """Post-warm-up requests of one group, pooled across replications."""

    def __init__(self):
        self.latency_s, self.wait_s = [], []  # one array per replication until joined
        self.arrivals, self.lost, self.done_in_window, self.window_s = 0, 0, 0, 0.0

    @classmethod
    def groups(cls, records, group_of, count: int) -> list[_Pooled]:
        """One pool per group 0..count-1; `group_of(record)` is each request's group.
        Each record's request times are derived once for all of its groups."""
        pools = [cls() for _ in range(count)]
        for rec in records:
            window = rec.arrival_s >= rec.warmup_s
            start_s, finish_s = rec.start_s, rec.finish_s
            finished = (finish_s >= rec.warmup_s) & (finish_s <= rec.end_s)
            latency_s = np.subtract(finish_s, rec.arrival_s, out=finish_s)
            wait_s = np.subtract(start_s, rec.arrival_s, out=start_s)
            done = window & (rec.outcome == COMPLETED)
            waited = window & ~np.isnan(wait_s)
            lost = window & ((rec.outcome == REJECTED) | (rec.outcome == TIMED_OUT))
            group = group_of(rec)
            for k, pool in enumerate(pools):
                member = group == k
                pool.latency_s.append(latency_s[member & done])
                pool.wait_s.append(wait_s[member & waited])
                pool.arrivals += int(np.count_nonzero(member & window))
                pool.lost += int(np.count_nonzero(member & lost))
                pool.done_in_window += int(np.count_nonzero(member & finished))
                pool.window_s += rec.end_s - rec.warmup_s
        for pool in pools:
            pool.latency_s = np.concatenate(pool.latency_s)
            pool.wait_s = np.concatenate(pool.wait_s)
        return pools

    @property
    def throughput_rps(self) -> float:
        return self.done_in_window / self.window_s if self.window_s else 0.0

    def figures(self) -> dict:
        return {
            "arrivals": self.arrivals,
            "lost": self.lost,
            "throughput": self.throughput_rps,
            "latency": _stats(self.latency_s),
            "wait": _stats(self.wait_s),
        }


def _stats(samples: np.ndarray) -> dict:
    """Mean and percentiles; `samples` (the pool's own array) is reordered in place."""
    if samples.size == 0:
        return {"mean": None, **dict.fromkeys(GROUP_PERCENTILES)}
    mean = float(samples.mean())  # before the reordering: the sum's order counts
    values = percentiles(samples, list(GROUP_PERCENTILES.values()), scratch=True)
    return {"mean": mean,
            **{k: float(v) for k, v in zip(GROUP_PERCENTILES, values, strict=True)}}


def _replica_figures(records, index: int, pooled: _Pooled) -> dict:
    total = sum(int((rec.arrival_s >= rec.warmup_s).sum()) for rec in records)
    figures = {"replica": index, **pooled.figures(),
               "arrival_share": pooled.arrivals / total if total else None,
               "utilization": _replica_utilization(records, index)}
    return figures


def _replica_utilization(records, index: int) -> float:
    busy_s, capacity_s = 0.0, 0.0
    for rec in records:
        mine = rec.batch_replica == index
        finish_s = np.where(np.isnan(rec.batch_finish_s), rec.end_s, rec.batch_finish_s)[mine]
        start_s = rec.batch_start_s[mine]
        busy_s += float(np.clip(np.minimum(finish_s, rec.end_s)
                                - np.maximum(start_s, rec.warmup_s), 0.0, None).sum())
        per_replica = rec.replica_servers[index] if rec.replica_servers else \
            rec.servers // rec.replicas
        capacity_s += per_replica * (rec.end_s - rec.warmup_s)
    return busy_s / capacity_s if capacity_s else 0.0


def _class_figures(pooled: _Pooled, slo_s: float | None) -> dict:
    figures = {**pooled.figures(), "slo_s": slo_s, "goodput": None, "slo_attainment": None}
    if slo_s is not None:
        within = int((pooled.latency_s <= slo_s).sum())
        figures["goodput"] = within / pooled.window_s if pooled.window_s else 0.0
        figures["slo_attainment"] = within / max(pooled.arrivals, 1)
    return figures


def _time_mean(t_s: np.ndarray, values: np.ndarray, start_s: float, end_s: float) -> float:
    """Mean over [start_s, end_s] of the step function that is values[i] from t_s[i]."""
    edges = np.clip(np.append(t_s, end_s), start_s, end_s)
    return float((values * np.diff(edges)).sum() / (end_s - start_s))


def _scaling_figures(records) -> dict:
    """Autoscaling over the measured window: replicas paid for and active, cost."""
    paid, active, window_s, most = 0.0, 0.0, 0.0, 0
    for rec in records:
        sc, span_s = rec.scaling, rec.end_s - rec.warmup_s
        paid += _time_mean(sc["t_s"], sc["paid"], rec.warmup_s, rec.end_s) * span_s
        active += _time_mean(sc["t_s"], sc["active"], rec.warmup_s, rec.end_s) * span_s
        most = max(most, int(sc["active"].max()))
        window_s += span_s
    price = float(records[0].scaling["price_per_replica_hour"])
    replica_hours = paid / 3600.0
    return {"mean_replicas_paid": paid / window_s, "mean_replicas_active": active / window_s,
            "max_replicas_active": most, "replica_hours": replica_hours,
            "cost": None if np.isnan(price) else replica_hours * price}


def render_groups(summary: dict) -> list[str]:
    """Table rows for `per_replica` and `per_class` (nothing when absent)."""
    rows = []
    if "per_replica" in summary:
        rows.append("replica   share  util   mean ms    p99 ms   lost")
        for r in summary["per_replica"]:
            rows.append(f"{r['replica']:<8}{_pct(r['arrival_share'])}{_pct(r['utilization'])}"
                        f"{_ms(r['latency']['mean'])}{_ms(r['latency']['p99'])}{r['lost']:>7}")
    if "autoscaling" in summary:
        a = summary["autoscaling"]
        cost = "" if a["cost"] is None else f", cost {a['cost']:.4g}"
        rows.append(f"autoscaling      {a['mean_replicas_paid']:.2f} replicas paid for on "
                    f"average ({a['mean_replicas_active']:.2f} active, at most "
                    f"{a['max_replicas_active']}), {a['replica_hours']:.4g} replica-hours{cost}")
    if "per_class" in summary:
        rows.append("class            mean ms    p99 ms   SLO met   lost")
        for name, c in summary["per_class"].items():
            rows.append(f"{name:<15}{_ms(c['latency']['mean'])}{_ms(c['latency']['p99'])}"
                        f"{_pct(c['slo_attainment'], 10)}{c['lost']:>7}")
    return rows


def _pct(value: float | None, width: int = 7) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width - 1}.1%} "


def _ms(value: float | None) -> str:
    return f"{'-':>10}" if value is None else f"{value * 1e3:>10.3f}"
