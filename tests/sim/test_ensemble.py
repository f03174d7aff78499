"""Fork-join ensembles against Nelson-Tantawi and H_k / mu; conservation of branches."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulator.analysis import theory
from simulator.experiments.runner import run
from simulator.model.errors import ScenarioError
from simulator.model.scenario import Scenario
from simulator.sim import simulate
from simulator.sim.records import COMPLETED

from invariants import assert_conserved

MU_RPS = 1000.0


def ensemble(rate_rps: float, seed: int, duration_s: float, replications: int = 8,
             **ensemble_section) -> Scenario:
    return Scenario.model_validate({
        "name": "ensemble", "seed": seed,
        "run": {"duration": duration_s, "warmup": 1.0, "replications": replications},
        "arrival": {"process": "poisson", "rate": rate_rps},
        "service": {"base": 1 / MU_RPS, "distribution": "exponential"},
        "ensemble": ensemble_section})


def _mean_se(summary) -> tuple[float, float]:
    values = np.array([p["latency"]["mean"] for p in summary["per_replication"]])
    return float(values.mean()), float(values.std(ddof=1) / math.sqrt(values.size))


def test_two_branches_match_nelson_tantawi():
    lam = 600.0
    mean, se = _mean_se(run(ensemble(lam, 21, 12.0, branches=2), workers=2).summary)
    expected = theory.fork_join2_mean_response_s(lam, MU_RPS)
    assert se < 0.03 * expected
    assert abs(mean - expected) <= 4 * se, (mean, se, expected)


@pytest.mark.parametrize("branches", [3, 5])
def test_k_branches_at_very_low_load_take_h_k_over_mu(branches):
    # rho = 0.005: queueing adds O(rho) to the mean, allowed for by a 1% floor
    mean, se = _mean_se(run(ensemble(5.0, 22 + branches, 250.0, branches=branches),
                            workers=2).summary)
    expected = theory.fork_join_low_load_response_s(branches, MU_RPS)
    assert se < 0.03 * expected
    assert abs(mean - expected) <= 4 * se + 0.01 * expected, (mean, se, expected)
    # and the mean grows with the number of branches, well beyond one branch's 1/mu
    assert mean > 1.5 / MU_RPS


def test_first_k_answers_with_the_kth_branch_and_books_balance():
    record = simulate(ensemble(300.0, 3, 5.0, branches=3, join="first_k", k=2), 0)
    n = record.sent_s.size
    assert record.arrival_s.size == 3 * n
    assert np.array_equal(record.replica, np.tile(np.arange(3), n))
    answered = record.client_outcome == COMPLETED
    finish = np.where(record.outcome == COMPLETED, record.finish_s, np.inf).reshape(n, 3)
    second_s = np.sort(finish, axis=1)[:, 1]
    assert np.allclose(record.received_s[answered], second_s[answered])
    assert_conserved(record)


def test_slowest_branch_sets_capacity_and_bad_k_is_refused():
    sc = ensemble(100.0, 1, 2.0, branches=2, service_time_factor=[1, 2])
    assert sc.capacity_rps == pytest.approx(500.0)
    data = sc.to_dict()
    data["ensemble"] = {"branches": 2, "join": "first_k", "k": 3}
    with pytest.raises(ScenarioError, match=r"ensemble\.k: join: first_k needs k between 1"):
        Scenario.from_dict(data)


@pytest.mark.parametrize("join", [{"join": "all"}, {"join": "first_k", "k": 2}])
def test_closed_loop_users_wait_for_the_join(join):
    users, think_s = 5, 0.004
    sc = Scenario.model_validate({
        "name": "ensemble", "seed": 9,
        "run": {"duration": 6.0, "warmup": 1.0, "replications": 1},
        "arrival": {"process": "closed", "users": users, "think_time": {"mean": think_s}},
        "service": {"base": 1 / MU_RPS, "distribution": "exponential"},
        "ensemble": {"branches": 3, **join}})
    record = simulate(sc, 0)
    answered = record.client_outcome == COMPLETED
    window = record.sent_s >= record.warmup_s
    assert (record.client_outcome == 0).sum() <= users
    latency_s = (record.received_s - record.sent_s)[window & answered]
    throughput = window.sum() / (record.end_s - record.warmup_s)
    # N = X (R + Z): a user is thinking or waiting for its join
    assert users == pytest.approx(throughput * (latency_s.mean() + think_s), rel=0.03)
