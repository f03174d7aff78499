"""One `batchsim plan` search from start to finish, with no terminal or file I/O.

Owns the glue between the command line and `planning`: the evaluator that
simulates a point look by look (replications in worker processes, warm-up
applied), the cheapest-plan search at one rate and the max-rate search per
configuration, and the `PlanOutcome` both return for printing and saving.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..analysis.feasibility import FEASIBLE, SloTarget
from ..model.grid import Grid, grid_points
from ..model.scenario import Scenario
from .planning import (
    Planner,
    PointResult,
    choose,
    cost_per_million,
    max_rate,
    pareto_front,
    sequential_evaluator,
    unit_cost,
)
from .runner import apply_auto_warmup, simulate_replications


@dataclass
class SearchSettings:
    """How hard to look: error rate, replications per look and at most."""

    alpha: float = 0.05
    first_replications: int = 3
    max_replications: int = 20
    workers: int = 1


@dataclass
class PlanOutcome:
    """What a plan search found: every evaluated point, the front and the choice."""

    rate_rps: float | None
    targets: list[SloTarget]
    points: list[PointResult]
    front: list[PointResult] = field(default_factory=list)
    chosen: PointResult | None = None
    grid_size: int = 0
    simulated_points: int = 0
    replications: int = 0
    max_rates: list[dict[str, Any]] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.targets[0].label()


def _evaluator(targets: list[SloTarget], settings: SearchSettings):
    def replicate(scenario: Scenario, indexes: range) -> list:
        records = simulate_replications(scenario, indexes, settings.workers)
        apply_auto_warmup(scenario, records)
        return records

    return sequential_evaluator(targets, settings.alpha, settings.first_replications,
                                settings.max_replications, replicate)


def plan_at_rate(base: Scenario, grids: list[Grid], targets: list[SloTarget],
                 objective: str, settings: SearchSettings) -> PlanOutcome:
    """The configurations meeting every target at the base scenario's rate."""
    grid = dict(grids)
    planner = Planner(base, grid, _evaluator(targets, settings), objective)
    points = planner.run()
    label = targets[0].label()
    return PlanOutcome(base.arrival.rate, targets, points,
                       front=pareto_front(points, label),
                       chosen=choose(points, objective, label),
                       grid_size=math.prod(len(v) for v in grid.values()) if grid else 1,
                       simulated_points=planner.simulated_points,
                       replications=sum(p.replications for p in points))


def plan_max_rate(base: Scenario, grids: list[Grid], targets: list[SloTarget],
                  settings: SearchSettings, tolerance: float = 0.02) -> PlanOutcome:
    """The largest rate each configuration sustains under every target (bisection)."""
    evaluate = _evaluator(targets, settings)
    rows, replications = [], 0

    def feasible_at(scenario: Scenario) -> bool:
        nonlocal replications
        result = evaluate(scenario)
        replications += result.replications
        return result.verdict == FEASIBLE

    configs = grid_points(grids)
    for config in configs:
        scenario = base.with_overrides(config) if config else base
        rate_rps, evaluations = max_rate(scenario, feasible_at, tolerance)
        cost = unit_cost(scenario) * scenario.servers.count
        rows.append({**config, "max_rate_rps": rate_rps, "capacity_rps": scenario.capacity_rps,
                     "evaluations": evaluations, "cost_per_hour": cost,
                     "cost_per_million": cost_per_million(cost, rate_rps)})
    rows.sort(key=lambda row: -row["max_rate_rps"])
    return PlanOutcome(None, targets, [], grid_size=len(configs),
                       simulated_points=sum(r["evaluations"] for r in rows),
                       replications=replications, max_rates=rows)


def chosen_scenario(base: Scenario, point: PointResult) -> Scenario:
    """The base scenario with the chosen point's knobs applied (what `run` accepts)."""
    return base.with_overrides(dict(point.overrides))

