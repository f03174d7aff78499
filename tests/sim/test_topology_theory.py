"""Replicas, routers and priority classes against queueing theory.

Each case runs independent replications and asks that the mean of the
per-replication estimates lies within SE_TOLERANCE standard errors of the
formula (the expected values come from `theory`, never from a printed run).
- `random` routing thins a Poisson stream: N replicas of M/M/1 are N
  independent M/M/1 queues at rate lambda/N (exact).
- join-the-shortest-queue and least-outstanding sit strictly between one
  shared M/M/N queue (Erlang C) and N independent M/M/1 queues.
- Two classes with `queue.discipline: priority` on one exponential server are
  Cobham's non-preemptive priority M/M/1.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pytest

from simulator.analysis import theory
from simulator.analysis.breakdown import breakdowns
from simulator.experiments.runner import run
from simulator.model.scenario import Scenario

MU_RPS = 1000.0
SE_TOLERANCE = 4.0
MAX_RELATIVE_SE = 0.03
REPLICATIONS = 8


def _scenario(seed: int, rate_rps: float, duration_s: float = 12.0, **sections) -> Scenario:
    return Scenario.model_validate({
        "name": "topology-theory", "seed": seed,
        "run": {"duration": duration_s, "warmup": 1.0, "replications": REPLICATIONS},
        "arrival": {"process": "poisson", "rate": rate_rps},
        "service": {"base": 1 / MU_RPS, "distribution": "exponential"},
        **sections})


@cache
def _result(case: str):
    seed, rate, sections = CASES[case]
    return run(_scenario(seed, rate, **sections), workers=2)


def _summary(case: str) -> dict:
    return _result(case).summary


CASES = {
    "random": (11, 1400.0, {"replicas": {"count": 2, "router": "random"}}),
    "jsq": (12, 2400.0, {"replicas": {"count": 3, "router": "join_shortest_queue"}}),
    "least": (13, 2400.0, {"replicas": {"count": 3, "router": "least_outstanding"}}),
    "priority": (14, 700.0, {"duration_s": 30.0, "queue": {"discipline": "priority"}, "classes": [
        {"name": "high", "share": 0.3, "priority": 2},
        {"name": "low", "share": 0.7, "priority": 1}]}),
}


def _mean_se(values) -> tuple[float, float]:
    data = np.asarray(values, dtype=float)
    return float(data.mean()), float(data.std(ddof=1) / math.sqrt(data.size))


def _assert_close(values, expected: float, what: str) -> None:
    mean, se = _mean_se(values)
    report = f"{what}: sim {mean:.6g} (SE {se:.3g}), theory {expected:.6g}"
    assert se < MAX_RELATIVE_SE * expected, "standard error too large to test: " + report
    assert abs(mean - expected) <= SE_TOLERANCE * se, report


def test_random_routing_is_independent_mm1_queues():
    summary = _summary("random")
    expected_s = theory.mm1_mean_sojourn_s(1400.0 / 2, MU_RPS)
    _assert_close([p["latency"]["mean"] for p in summary["per_replication"]], expected_s,
                  "mean latency, random routing over 2 x M/M/1")
    for replica in summary["per_replica"]:
        assert replica["arrival_share"] == pytest.approx(0.5, abs=0.01)
        assert replica["utilization"] == pytest.approx(0.7, abs=0.02)


@pytest.mark.parametrize("case", ["jsq", "least"])
def test_shortest_queue_routing_between_pooled_and_independent(case):
    summary = _summary(case)
    mean, se = _mean_se([p["wait"]["mean"] for p in summary["per_replication"]])
    pooled_s = theory.mmc_mean_wait_s(3, 2400.0, MU_RPS)
    independent_s = theory.mm1_mean_wait_s(2400.0 / 3, MU_RPS)
    assert pooled_s + SE_TOLERANCE * se < mean < independent_s - SE_TOLERANCE * se, (
        f"{case}: mean wait {mean:.6g} (SE {se:.3g}) not strictly between M/M/3 "
        f"{pooled_s:.6g} and 3 x M/M/1 {independent_s:.6g}")


def test_two_priority_classes_match_cobham():
    records = _result("priority").records
    per_rep = [breakdowns([record], None)["per_class"] for record in records]
    expected = theory.mm1_priority_mean_waits_s([0.3 * 700.0, 0.7 * 700.0], MU_RPS)
    for name, expected_s in zip(("high", "low"), expected, strict=True):
        _assert_close([p[name]["wait"]["mean"] for p in per_rep], expected_s,
                      f"class {name} mean wait, Cobham")
