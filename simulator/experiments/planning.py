"""Capacity planning: the cheapest configuration that meets the SLOs at a load.

Owns the search behind `batchsim plan`. The grid splits into configurations
(batching knobs, hardware, ...) and one scaling axis, `servers.count`. Per
configuration the planner looks for the fewest servers that are feasible
(every SLO's confidence bound met, see `feasibility`): counts whose capacity
cannot carry the load are infeasible without simulation; the others are
scanned coarsely (doubling) and then bisected. That bisection assumes that
adding servers never hurts the SLO statistic when lost requests count as misses
(true sample-path-wise for FIFO without batching; a check of the count just below
guards the rest). With the `cost` or `servers` objective, a configuration whose
cheapest possible point cannot beat the best found so far is pruned unsimulated.
`--max-rate` bisects the arrival rate per configuration instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..analysis.feasibility import FEASIBLE, INFEASIBLE, SloTarget, sequential_test
from ..model.grid import grid_points
from ..model.scenario import Scenario

SERVERS_KEY = "servers.count"


@dataclass
class PointResult:
    """One evaluated (or pruned) grid point."""

    overrides: dict[str, Any]
    verdict: str
    replications: int = 0
    estimates: dict[str, float] = field(default_factory=dict)  # target label -> mean value
    bounds: dict[str, float] = field(default_factory=dict)  # target label -> conservative bound
    cost_per_hour: float = 0.0
    capacity_rps: float = 0.0
    reason: str = ""

    def row(self, rate_rps: float) -> dict[str, Any]:
        row = {**self.overrides, "verdict": self.verdict, "reason": self.reason,
               "replications": self.replications, "cost_per_hour": self.cost_per_hour,
               "cost_per_million": cost_per_million(self.cost_per_hour, rate_rps),
               "capacity_rps": self.capacity_rps,
               "headroom": self.capacity_rps / rate_rps - 1 if rate_rps else math.nan}
        for label, value in self.estimates.items():
            row[f"{label}.estimate"] = value
            row[f"{label}.bound"] = self.bounds.get(label, math.nan)
        return row


def cost_per_million(cost_per_hour: float, rate_rps: float) -> float:
    """Cost of serving one million requests at `rate_rps` for `cost_per_hour`."""
    return cost_per_hour / (rate_rps * 3600) * 1e6 if rate_rps > 0 else math.inf


Evaluator = Callable[[Scenario], PointResult]


class Planner:
    """Searches the grid for feasible configurations at one arrival rate."""

    def __init__(self, base: Scenario, grid: dict[str, list[Any]], evaluate: Evaluator,
                 objective: str = "cost"):
        self.base, self.evaluate, self.objective = base, evaluate, objective
        self.counts = sorted(grid.get(SERVERS_KEY, [base.servers.count]))
        self.configs = grid_points([(k, v) for k, v in grid.items() if k != SERVERS_KEY])
        self.results: list[PointResult] = []
        self.simulated_points = 0

    def scenario(self, config: dict[str, Any], count: int) -> Scenario:
        return self.base.with_overrides({**config, SERVERS_KEY: count})

    def run(self) -> list[PointResult]:
        best_cost = math.inf
        for config in sorted(self.configs, key=self._cheapest_possible):
            if self.objective != "latency" and self._cheapest_possible(config) >= best_cost:
                self._prune(config, "pruned: cannot be cheaper than the best found")
                continue
            found = self._fewest_servers(config)
            if found is not None and found.verdict == FEASIBLE:
                best_cost = min(best_cost, found.cost_per_hour)
            if self.objective == "latency" and found is not None and found.verdict == FEASIBLE:
                self._point(config, self.counts[-1])
        return self.results

    def _cheapest_possible(self, config: dict[str, Any]) -> float:
        for count in self.counts:
            scenario = self.scenario(config, count)
            if scenario.offered_load < 1:
                return unit_cost(scenario) * count
        return math.inf

    def _prune(self, config: dict[str, Any], reason: str) -> None:
        for count in self.counts:
            scenario = self.scenario(config, count)
            self.results.append(PointResult({**config, SERVERS_KEY: count}, "pruned",
                                            cost_per_hour=unit_cost(scenario) * count,
                                            capacity_rps=scenario.capacity_rps, reason=reason))

    def _point(self, config: dict[str, Any], count: int) -> PointResult:
        """Evaluate (once) the point `config` with `count` servers."""
        overrides = {**config, SERVERS_KEY: count}
        for done in self.results:
            if done.overrides == overrides:
                return done
        scenario = self.scenario(config, count)
        if scenario.offered_load >= 1:
            result = PointResult(overrides, INFEASIBLE, reason="capacity below the load")
        else:
            result = self.evaluate(scenario)
            result.overrides = overrides
            self.simulated_points += 1
        result.cost_per_hour = unit_cost(scenario) * count
        result.capacity_rps = scenario.capacity_rps
        self.results.append(result)
        return result

    def _fewest_servers(self, config: dict[str, Any]) -> PointResult | None:
        """Coarse doubling scan over the counts, then bisection to the first feasible."""
        low, high = -1, None  # indices: last known infeasible, first known feasible
        index = 0
        while index < len(self.counts):
            if self._point(config, self.counts[index]).verdict == FEASIBLE:
                high = index
                break
            low, index = index, max(index + 1, 2 * index + 1)
        if high is None:
            return None
        while high - low > 1:
            middle = (low + high) // 2
            if self._point(config, self.counts[middle]).verdict == FEASIBLE:
                high = middle
            else:
                low = middle
        return self._point(config, self.counts[high])


def unit_cost(scenario: Scenario) -> float:
    """Hourly price of one server of this scenario (1 when no price is given)."""
    price = scenario.server_cost_per_hour
    return 1.0 if price is None else price


def pareto_front(points: Iterable[PointResult], label: str) -> list[PointResult]:
    """Feasible points not dominated in (cost ↓, `label` bound ↓, headroom ↑)."""
    feasible = [p for p in points if p.verdict == FEASIBLE]

    def key(p: PointResult) -> tuple[float, float, float]:
        return p.cost_per_hour, p.bounds.get(label, math.inf), -p.capacity_rps

    def dominates(a: PointResult, b: PointResult) -> bool:
        ka, kb = key(a), key(b)
        return all(x <= y for x, y in zip(ka, kb, strict=True)) and ka != kb

    front = [p for p in feasible if not any(dominates(q, p) for q in feasible)]
    return sorted(front, key=key)


def choose(points: list[PointResult], objective: str, label: str) -> PointResult | None:
    """The best feasible point for the objective (ties broken by the other criteria)."""
    feasible = [p for p in points if p.verdict == FEASIBLE]
    if not feasible:
        return None
    latency = {id(p): p.bounds.get(label, math.inf) for p in feasible}
    servers = {id(p): p.overrides.get(SERVERS_KEY, 0) for p in feasible}
    keys = {
        "cost": lambda p: (p.cost_per_hour, latency[id(p)]),
        "servers": lambda p: (servers[id(p)], p.cost_per_hour, latency[id(p)]),
        "latency": lambda p: (latency[id(p)], p.cost_per_hour),
    }
    return min(feasible, key=keys[objective])


def max_rate(base: Scenario, decide_at: Callable[[Scenario], bool], tolerance: float = 0.02,
             low_rps: float | None = None) -> tuple[float, int]:
    """Largest arrival rate `decide_at` calls feasible, by bisection (rate, evaluations).

    The search runs between a small rate and the analytic capacity; it stops when
    the bracket is within `tolerance` of the capacity.
    """
    capacity = base.capacity_rps
    low, high = low_rps if low_rps is not None else 0.0, capacity
    evaluations = 0
    while high - low > tolerance * capacity:
        middle = (low + high) / 2
        evaluations += 1
        if decide_at(base.with_overrides({"arrival.rate": middle})):
            low = middle
        else:
            high = middle
    return low, evaluations


def evaluation_targets(targets: list[SloTarget]) -> list[str]:
    return [t.label() for t in targets]


def sequential_evaluator(targets: list[SloTarget], alpha: float, first: int, largest: int,
                         replicate: Callable[[Scenario, range], list]) -> Evaluator:
    """An Evaluator that simulates replications look by look (see `feasibility`)."""

    def evaluate(scenario: Scenario) -> PointResult:
        slo_s = scenario.slo.latency if scenario.slo else None

        def more_values(start: int, stop: int) -> dict[SloTarget, list[float]]:
            records = replicate(scenario, range(start, stop))
            return {t: [t.value(r, slo_s) for r in records] for t in targets}

        decision = sequential_test(more_values, targets, alpha, first, largest)
        estimates, bounds = {}, {}
        for target, values in decision.values.items():
            estimates[target.label()] = float(sum(values) / len(values))
            bounds[target.label()] = _conservative_bound(target, values, alpha)
        return PointResult({}, decision.verdict if decision.verdict != "undecided"
                           else INFEASIBLE, decision.replications, estimates, bounds,
                           reason="" if decision.verdict != "undecided"
                           else "undecided at max replications")

    return evaluate


def _conservative_bound(target: SloTarget, values: list[float], alpha: float) -> float:
    from ..analysis.feasibility import one_sided_bounds

    lower, upper = one_sided_bounds(values, alpha)
    return lower if target.is_goodput else upper
