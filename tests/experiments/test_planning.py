"""The planner's search: minimal feasible servers, pruning, Pareto front, max rate."""

import math
import random

import pytest

from simulator.analysis import theory
from simulator.analysis.feasibility import FEASIBLE, INFEASIBLE, parse_slo
from simulator.experiments.planning import (
    Planner,
    PointResult,
    choose,
    max_rate,
    pareto_front,
    sequential_evaluator,
)
from simulator.experiments.runner import simulate_replications

from conftest import make_scenario

NEEDED = {1: 9, 4: 5, 16: 3}  # servers each max_batch_size needs in the synthetic world


def fake_evaluator(calls):
    def evaluate(scenario):
        calls.append((scenario.batching.max_batch_size, scenario.servers.count))
        size, count = scenario.batching.max_batch_size, scenario.servers.count
        feasible = count >= NEEDED[size]
        p99 = 0.2 / count + 0.001 * size
        return PointResult({}, FEASIBLE if feasible else INFEASIBLE, 3,
                           {"p99<=100ms": p99}, {"p99<=100ms": p99 * 1.1})
    return evaluate


def base():
    return make_scenario(arrival={"process": "poisson", "rate": 100},
                         servers={"count": 1, "cost_per_hour": 2.0})


def test_finds_the_fewest_servers_per_configuration_and_prunes():
    calls = []
    grid = {"batching.max_batch_size": [1, 4, 16], "servers.count": list(range(1, 17))}
    planner = Planner(base(), grid, fake_evaluator(calls), objective="cost")
    results = planner.run()
    best = choose(results, "cost", "p99<=100ms")
    assert best.overrides == {"batching.max_batch_size": 16, "servers.count": 3}
    assert best.cost_per_hour == pytest.approx(6.0)
    assert len(calls) < 48 / 2  # far fewer simulations than the full grid
    assert len(set(calls)) == len(calls)  # no point simulated twice
    for size, needed in NEEDED.items():
        feasible = [c for s, c in calls if s == size and c >= needed]
        infeasible = [c for s, c in calls if s == size and c < needed]
        if feasible:  # evaluated configurations end on their exact minimum
            assert min(feasible) == needed and max(infeasible, default=0) == needed - 1


def test_latency_objective_explores_every_configuration():
    calls = []
    grid = {"batching.max_batch_size": [1, 4, 16], "servers.count": list(range(1, 17))}
    results = Planner(base(), grid, fake_evaluator(calls), objective="latency").run()
    assert {s for s, _ in calls} == {1, 4, 16}
    assert choose(results, "latency", "p99<=100ms").overrides["servers.count"] == 16


def test_pareto_front_never_holds_a_dominated_point():
    rng = random.Random(4)
    points = [PointResult({"i": i}, FEASIBLE, 3, {}, {"x": rng.random()},
                          cost_per_hour=rng.choice([1, 2, 3, 4]), capacity_rps=rng.random())
              for i in range(60)]
    front = pareto_front(points, "x")
    assert front
    for a in front:
        for b in points:
            better_or_equal = (b.cost_per_hour <= a.cost_per_hour and b.bounds["x"] <= a.bounds["x"]
                               and b.capacity_rps >= a.capacity_rps)
            strictly = (b.cost_per_hour, b.bounds["x"], -b.capacity_rps) != (
                a.cost_per_hour, a.bounds["x"], -a.capacity_rps)
            assert not (better_or_equal and strictly)


def test_max_rate_bisection_on_a_threshold():
    scenario = make_scenario(batching={"policy": "none"}, service={"base": "1ms"})
    found, evaluations = max_rate(scenario, lambda s: s.arrival.rate <= 700, tolerance=0.01)
    assert 690 <= found <= 700 and evaluations <= 8


def test_max_rate_matches_mm1_theory():
    """p99 of M/M/1 latency = ln(100)/(mu - lambda): the largest rate with p99 <= 100 ms
    is mu - ln(100)/0.1. The CI-aware search may stop below it, never far above."""
    mu = 1000.0
    scenario = make_scenario(
        run={"duration": 30, "warmup": 3, "replications": 3},
        arrival={"process": "poisson", "rate": 100}, batching={"policy": "none"},
        service={"base": 1 / mu, "distribution": "exponential"})
    target = parse_slo("p99=100ms")
    evaluate = sequential_evaluator([target], alpha=0.05, first=3, largest=12,
                                    replicate=lambda s, idx: simulate_replications(s, idx, 2))
    found, _ = max_rate(scenario, lambda s: evaluate(s).verdict == FEASIBLE, tolerance=0.01,
                        low_rps=500)
    truth = mu - math.log(100) / 0.1
    assert theory.mm1_sojourn_quantile_s(truth, mu, 0.99) == pytest.approx(0.1)
    assert truth - 0.03 * mu <= found <= truth + 0.01 * mu
