"""Is a configuration feasible under its SLOs? Sequential tests with alpha spending.

Owns SLO targets (`p99=100ms`, `p50=20ms`, `mean=30ms`, `goodput=95%`), their value
in one replication (dropped, rejected and unfinished requests count as misses:
their latency is infinite), and the sequential decision. A configuration is
feasible only when the one-sided upper confidence bound of every latency
statistic (lower bound for goodput) meets its target. Replications are added in
looks of doubling size; look k spends alpha_k = alpha / 2^k, so the chance of
calling an infeasible configuration feasible stays below alpha however many
looks are taken (Bonferroni over the looks).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from ..model.errors import ScenarioError
from ..model.units import parse_duration_s
from ..sim.records import IN_FLIGHT, ReplicationRecord
from .metrics import WindowView
from .student_t import t_quantile

FEASIBLE, INFEASIBLE, UNDECIDED = "feasible", "infeasible", "undecided"
_QUANTILE = re.compile(r"^p(\d+(?:\.\d+)?)$")


@dataclass(frozen=True)
class SloTarget:
    """One objective: a latency statistic under `limit_s`, or goodput over `share`."""

    statistic: str  # "p99", "p99.9", "mean" (latency) or "goodput"
    limit: float  # seconds for latency; share of the offered rate for goodput

    @property
    def is_goodput(self) -> bool:
        return self.statistic == "goodput"

    def label(self) -> str:
        if self.is_goodput:
            return f"goodput>={self.limit:.4g} of offered"
        return f"{self.statistic}<={self.limit * 1e3:g}ms"

    def value(self, record: ReplicationRecord, slo_latency_s: float | None) -> float:
        """This replication's value of the statistic (lost requests count as infinitely late).

        Requests still in flight at the end are misses for goodput; for a latency
        statistic they are misses only once they have waited past the limit
        (otherwise their latency is unknown, not bad, and they are left out).
        """
        view = WindowView(record)  # the metrics' own clock (client clock with a client path)
        unanswered = view.arrivals - view.latency_s.size
        if not self.is_goodput:
            in_flight_ages_s = _in_flight_ages_s(record)
            unanswered -= int((in_flight_ages_s <= self.limit).sum())
        latency_s = np.concatenate([view.latency_s, np.full(unanswered, np.inf)])
        if latency_s.size == 0:
            return math.inf if not self.is_goodput else 0.0
        if self.is_goodput:
            return float((latency_s <= slo_latency_s).mean())
        if self.statistic == "mean":
            return float(latency_s.mean())
        q = float(self.statistic[1:]) / 100
        return float(np.quantile(latency_s, q, method="inverted_cdf"))


def _in_flight_ages_s(record: ReplicationRecord) -> np.ndarray:
    """How long each measured request still unanswered at the end had been waiting."""
    if record.has_client_path:
        sent_s, outcome = record.sent_s, record.client_outcome
    else:
        sent_s, outcome = record.arrival_s, record.outcome
    pending = (sent_s >= record.warmup_s) & (outcome == IN_FLIGHT)
    return record.end_s - sent_s[pending]


def parse_slo(text: str) -> SloTarget:
    """`p99=100ms`, `p99.9=250ms`, `mean=20ms` or `goodput=95%` -> SloTarget."""
    name, sep, raw = text.partition("=")
    name, raw = name.strip().lower(), raw.strip()
    if not sep or not raw:
        raise ScenarioError("--slo", None, "expected STATISTIC=LIMIT, e.g. p99=100ms", text)
    if name == "goodput":
        return SloTarget("goodput", _share(raw, text))
    match = _QUANTILE.match(name)
    if name != "mean" and not (match and 0 < float(match.group(1)) < 100):
        raise ScenarioError("--slo", None, "statistic must be pNN (e.g. p99, p99.9), mean or "
                            "goodput", text)
    try:
        limit_s = parse_duration_s(raw)
    except ValueError as exc:
        raise ScenarioError("--slo", None, str(exc), text) from None
    if limit_s <= 0:
        raise ScenarioError("--slo", None, "the latency limit must be positive", text)
    return SloTarget(name, limit_s)


def _share(raw: str, text: str) -> float:
    try:
        share = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise ScenarioError("--slo", None, "goodput takes a share such as 95% or 0.95",
                            text) from None
    if not 0 < share <= 1:
        raise ScenarioError("--slo", None, "goodput share must be in (0, 100%]", text)
    return share


def alpha_at_look(alpha: float, look: int) -> float:
    """Error budget of look `look` (1, 2, ...): alpha / 2^look, summing to below alpha."""
    return alpha / 2**look


def one_sided_bounds(values: list[float], alpha: float) -> tuple[float, float]:
    """(lower, upper) one-sided 1 - alpha t bounds of the mean of `values`."""
    data = np.asarray(values, dtype=float)
    if data.size < 2 or not np.all(np.isfinite(data)):
        return -math.inf, math.inf
    half = t_quantile(1 - alpha, data.size - 1) * float(data.std(ddof=1)) / math.sqrt(data.size)
    return float(data.mean()) - half, float(data.mean()) + half


def decide(values: dict[SloTarget, list[float]], alpha_look: float) -> str:
    """FEASIBLE when every bound meets its target, INFEASIBLE when one surely fails."""
    verdicts = []
    for target, samples in values.items():
        lower, upper = one_sided_bounds(samples, alpha_look)
        if target.is_goodput:
            good, bad = lower >= target.limit, upper < target.limit
        else:
            good, bad = upper <= target.limit, lower > target.limit
        if all(math.isinf(v) for v in samples) and not target.is_goodput:
            bad = True  # every replication lost more than the percentile allows
        verdicts.append(FEASIBLE if good else INFEASIBLE if bad else UNDECIDED)
    if INFEASIBLE in verdicts:
        return INFEASIBLE
    return FEASIBLE if all(v == FEASIBLE for v in verdicts) else UNDECIDED


@dataclass
class Decision:
    """Outcome of a sequential test: verdict, replications used, per-target values."""

    verdict: str
    replications: int
    values: dict[SloTarget, list[float]]


def sequential_test(more_values, targets: list[SloTarget], alpha: float, first: int,
                    largest: int) -> Decision:
    """Add replications look by look until the verdict is sure or `largest` is reached.

    `more_values(start, stop)` returns each target's values for replications
    start..stop-1. Undecided at the last look counts as infeasible (conservative).
    """
    values: dict[SloTarget, list[float]] = {t: [] for t in targets}
    done = 0
    for look, size in enumerate(look_sizes(first, largest), start=1):
        for target, new in more_values(done, size).items():
            values[target] += new
        done = size
        verdict = decide(values, alpha_at_look(alpha, look))
        if verdict != UNDECIDED:
            return Decision(verdict, done, values)
    return Decision(UNDECIDED, done, values)


def look_sizes(first: int, largest: int) -> list[int]:
    """Replication counts at each look: first, 2 first, 4 first, ... up to largest."""
    sizes, n = [], max(2, first)
    while n < largest:
        sizes.append(n)
        n *= 2
    return [*sizes, largest]
