"""Closed-loop clients (`arrival.process: closed`): theory, invariants, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulator.analysis import theory
from simulator.experiments.runner import run
from simulator.model.scenario import Scenario
from simulator.sim import simulate
from simulator.sim.records import IN_FLIGHT

from conftest import assert_check_refuses, scenario_dict

MU_RPS = 1000.0


def closed(users: int, think, seed: int = 5, duration_s: float = 10.0, replications: int = 6,
           **sections):
    return Scenario.model_validate({
        "name": "closed", "seed": seed,
        "run": {"duration": duration_s, "warmup": 1.0, "replications": replications},
        "arrival": {"process": "closed", "users": users, "think_time": think},
        "service": {"base": 1 / MU_RPS, "distribution": "exponential"}, **sections})


@pytest.mark.parametrize("users, think_s", [(4, 0.005), (12, 0.01)])
def test_throughput_matches_the_finite_source_queue(users, think_s):
    summary = run(closed(users, {"mean": think_s, "distribution": "exponential"}),
                  workers=2).summary
    values = np.array([p["throughput"] for p in summary["per_replication"]])
    mean, se = values.mean(), values.std(ddof=1) / math.sqrt(values.size)
    expected = theory.finite_source_throughput_rps(users, think_s, MU_RPS)
    assert se < 0.02 * expected
    assert abs(mean - expected) <= 4 * se + 0.002 * expected, (mean, se, expected)
    assert not any("unstable" in w for w in summary["warnings"])


def test_response_time_law_and_one_request_per_user():
    users, think_s = 8, 0.004
    sc = closed(users, {"mean": think_s, "distribution": "gamma", "cv": 0.5},
                batching={"policy": "dynamic", "max_batch_size": 4, "max_queue_delay": "1ms"})
    record = simulate(sc, 0)
    assert (record.outcome == IN_FLIGHT).sum() <= users
    window = record.arrival_s >= record.warmup_s
    throughput = window.sum() / (record.end_s - record.warmup_s)
    latency_s = (record.finish_s - record.arrival_s)[window & ~np.isnan(record.finish_s)]
    # N = X (R + Z): each user is always either thinking or waiting for its answer
    assert users == pytest.approx(throughput * (latency_s.mean() + think_s), rel=0.03)


def test_zero_think_time_keeps_exactly_users_requests_in_the_system():
    sc = closed(3, "0ms", batching={"policy": "dynamic", "max_batch_size": 8,
                                    "max_queue_delay": 0})
    record = simulate(sc, 0)
    assert (record.outcome == IN_FLIGHT).sum() == 3  # never thinking: always waiting
    assert record.batch_size.max() <= 3


def test_closed_loop_with_replicas_and_classes_is_reproducible():
    sc = closed(16, {"mean": "5ms"}, duration_s=3.0, replications=2, replicas={"count": 2, "router": "least_outstanding"},
                classes=[{"name": "a", "share": 0.5}, {"name": "b", "share": 0.5}])
    a, b = run(sc, workers=1).summary, run(sc, workers=2).summary
    assert a["per_class"] == b["per_class"] and a["latency"] == b["latency"]
    assert a["per_class"]["a"]["arrivals"] == pytest.approx(
        a["per_class"]["b"]["arrivals"], rel=0.05)


@pytest.mark.parametrize("patch, fragment", [
    ({"arrival": {"process": "closed", "users": 0}}, "arrival.users"),
    ({"arrival": {"process": "closed", "users": 4}, "run": {"requests": 1000}},
     "run.requests: closed-loop arrivals need run.duration"),
    ({"arrival": {"process": "closed", "users": 4, "think_time": {"mean": "5ms",
                                                                    "distribution": "pareto"}}},
     "arrival.think_time.distribution"),
])
def test_bad_closed_loop_exits_2(write_yaml, patch, fragment):
    assert_check_refuses(write_yaml(scenario_dict(**patch)), fragment)
