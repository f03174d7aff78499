"""Pipelines (`stages:`): tandem queues against Jackson's product form; the books."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulator.analysis import theory
from simulator.experiments.runner import run
from simulator.model.scenario import Scenario
from simulator.sim import simulate
from simulator.sim.records import COMPLETED, REJECTED

from conftest import make_scenario
from invariants import assert_conserved

EXP_FAST = {"base": "0.5ms", "distribution": "exponential"}


def pipeline(rate_rps: float, seed: int, duration_s: float, replications: int = 8, **extra):
    extra.setdefault("arrival", {"process": "poisson", "rate": rate_rps})
    return Scenario.model_validate({
        "name": "pipeline", "seed": seed,
        "run": {"duration": duration_s, "warmup": 1.0, "replications": replications},
        "service": {"base": "1ms", "distribution": "exponential"},
        "stages": [{"name": "pre", "service": EXP_FAST, "servers": {"count": 2}},
                   {"name": "model"}], **extra})


def test_two_stage_tandem_is_the_sum_of_its_queues():
    # Burke: an M/M/2 stage's departures are Poisson, so the mean end-to-end latency is
    # the M/M/2 sojourn at 2000/s per server plus the M/M/1 sojourn at 1000/s
    lam = 600.0
    summary = run(pipeline(lam, 31, 15.0), workers=2).summary
    values = np.array([p["latency"]["mean"] for p in summary["per_replication"]])
    mean, se = values.mean(), values.std(ddof=1) / math.sqrt(values.size)
    expected = (theory.mmc_mean_wait_s(2, lam, 2000.0) + 1 / 2000.0
                + theory.mm1_mean_sojourn_s(lam, 1000.0))
    assert se < 0.03 * expected
    assert abs(mean - expected) <= 4 * se, (mean, se, expected)
    stages = summary["per_replica"]
    assert stages[1]["utilization"] == pytest.approx(0.6, abs=0.03)


def test_each_request_visits_the_stages_in_order_and_the_books_balance():
    record = simulate(pipeline(600.0, 2, 3.0, 1), 0)
    n = record.sent_s.size
    assert record.arrival_s.size == 2 * n
    tasks = record.arrival_s.reshape(n, 2)
    finish = record.finish_s.reshape(n, 2)
    both = ~np.isnan(finish[:, 1])
    assert np.array_equal(tasks[both, 1], finish[both, 0])  # stage 2 starts at stage 1's end
    assert np.all(record.replica[~np.isnan(record.arrival_s)]
                  == np.tile([0, 1], n)[~np.isnan(record.arrival_s)])
    answered = record.client_outcome == COMPLETED
    assert np.allclose(record.received_s[answered], finish[answered, 1])
    assert_conserved(record)


def test_a_request_rejected_at_a_later_stage_is_lost_end_to_end():
    sc = make_scenario(arrival={"process": "poisson", "rate": 900},
                       run={"duration": 3.0, "warmup": 0.5, "replications": 1},
                       queue={"capacity": 3},
                       stages=[{"name": "fast", "batching": {"policy": "none"},
                                "service": {"base": "0.1ms"}},
                               {"name": "slow", "batching": {"policy": "none"},
                                "service": {"base": "1.5ms"}}])
    record = simulate(sc, 0)
    tasks = record.outcome.reshape(-1, 2)
    lost_late = (tasks[:, 0] == COMPLETED) & (tasks[:, 1] == REJECTED)
    assert lost_late.sum() > 0
    assert np.all(record.client_outcome[lost_late] == REJECTED)
    assert_conserved(record)
    assert sc.capacity_rps == 1 / 0.0015


def test_closed_loop_users_wait_for_the_last_stage():
    users, think_s = 6, 0.003
    sc = pipeline(0.0, 4, 6.0, 1, arrival={"process": "closed", "users": users,
                                                "think_time": {"mean": think_s}})
    record = simulate(sc, 0)
    answered = record.client_outcome == COMPLETED
    window = record.sent_s >= record.warmup_s
    outstanding = (record.client_outcome == 0).sum()
    assert outstanding <= users
    latency_s = (record.received_s - record.sent_s)[window & answered]
    throughput = window.sum() / (record.end_s - record.warmup_s)
    # N = X (R + Z): a user is thinking or waiting for the last stage's answer
    assert users == pytest.approx(throughput * (latency_s.mean() + think_s), rel=0.03)
