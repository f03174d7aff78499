"""The simulator against closed-form queueing theory, and theory.py against itself.

Simulation checks: each case runs independent replications (their own seeds),
takes one estimate per replication, and asks that the mean of the estimates
lies within SE_TOLERANCE standard errors (from the spread across replications)
of the formula, plus a tiny floor for the O(1/duration) warm-up and end
censoring bias. Each also asserts that the standard error is small relative to
the target, so a wrong simulator cannot pass behind wide error bars. No number
printed by the code is pinned: the expected values come from the formulas.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pytest
from scipy import stats
from scipy.special import gammaln, logsumexp

from simulator.analysis import theory
from simulator.experiments.runner import run
from simulator.model.scenario import Scenario

SERVICE_RATE_RPS = 1000.0  # mu: exponential/deterministic service of mean 1 ms
SE_TOLERANCE = 4.0
MAX_RELATIVE_SE = 0.03
FLOOR_RELATIVE = 0.002  # bias allowance: warm-up and censoring at the end of the run
REPLICATIONS = 10
WARMUP_S = 1.0  # >= 10 relaxation times of the slowest case (M/M/1 at rho 0.8: ~0.09 s)


# -- helpers -----------------------------------------------------------------------------
def scenario(seed: int, rate_rps: float, duration_s: float, service: dict,
             batching: dict | None = None, servers: int = 1) -> Scenario:
    data = {
        "name": "theory",
        "seed": seed,
        "run": {"duration": duration_s, "warmup": WARMUP_S, "replications": REPLICATIONS},
        "arrival": {"process": "poisson", "rate": rate_rps},
        "service": service,
        "servers": {"count": servers},
    }
    if batching is not None:
        data["batching"] = batching
    return Scenario.model_validate(data)


EXPONENTIAL = {"base": 1 / SERVICE_RATE_RPS, "distribution": "exponential"}


@cache
def per_replication(case: str) -> dict[str, np.ndarray]:
    """Run a named case once (cached across tests) -> per-replication estimates."""
    sc = CASES[case]()
    result = run(sc, workers=2)
    reps = result.summary["per_replication"]
    assert len(reps) == REPLICATIONS
    assert not result.summary["saturated"]
    return {
        f"{key}_{stat}": np.array([p[key][stat] for p in reps], dtype=float)
        for key in ("latency", "wait") for stat in ("mean", "p99")
    }


def assert_matches_theory(values: np.ndarray, expected: float, what: str) -> None:
    """Mean of the per-replication `values` within a few standard errors of `expected`."""
    assert np.all(np.isfinite(values)), what
    mean = float(values.mean())
    se = float(values.std(ddof=1) / math.sqrt(values.size))
    report = (f"{what}: sim {mean:.6g} (SE {se:.3g}, {values.size} replications), "
              f"theory {expected:.6g}, z = {(mean - expected) / se if se else math.inf:+.2f}")
    assert se < MAX_RELATIVE_SE * expected, "standard error too large to test: " + report
    assert abs(mean - expected) <= SE_TOLERANCE * se + FLOOR_RELATIVE * expected, report


# Each case has its own seed, so the cases' errors are independent of one another, and a
# duration long enough for a relative SE of about 2% at most (measured 0.8-2.0%) on its
# noisiest estimate, a margin below MAX_RELATIVE_SE.
CASES = {
    "mm1_rho05": lambda: scenario(101, 500.0, 30.0, EXPONENTIAL),
    "mm1_rho08": lambda: scenario(102, 800.0, 60.0, EXPONENTIAL),
    "md1_rho07": lambda: scenario(103, 700.0, 35.0,
                                  {"base": 1 / SERVICE_RATE_RPS, "distribution": "deterministic"}),
    "mg1_gamma_rho07": lambda: scenario(104, 700.0, 35.0, {"base": 1 / SERVICE_RATE_RPS,
                                                           "distribution": "gamma", "cv": 0.5}),
    "mm3_rho08": lambda: scenario(106, 2400.0, 20.0, EXPONENTIAL, servers=3),
}
# (max batch b, load lambda / (b mu), duration)
BULK_CASES = [(4, 0.5, 10.0), (4, 0.8, 25.0), (16, 0.5, 8.0), (16, 0.8, 12.0)]
for _b, _load, _duration_s in BULK_CASES:
    CASES[f"bulk_b{_b}_load{_load}"] = (
        lambda b=_b, load=_load, duration_s=_duration_s: scenario(
            200 + b + int(10 * load), load * b * SERVICE_RATE_RPS, duration_s,
            {"base": 1 / SERVICE_RATE_RPS, "per_item": 0.0, "distribution": "exponential"},
            batching={"policy": "dynamic", "max_batch_size": b, "max_queue_delay": 0}))


# -- simulator vs theory -------------------------------------------------------------------
@pytest.mark.parametrize(("case", "rate_rps"), [("mm1_rho05", 500.0), ("mm1_rho08", 800.0)])
def test_mm1_latency_mean_and_p99(case, rate_rps):
    est = per_replication(case)
    assert_matches_theory(est["latency_mean"],
                          theory.mm1_mean_sojourn_s(rate_rps, SERVICE_RATE_RPS),
                          f"{case} mean latency")
    assert_matches_theory(est["latency_p99"],
                          theory.mm1_sojourn_quantile_s(rate_rps, SERVICE_RATE_RPS, 0.99),
                          f"{case} p99 latency")
    assert_matches_theory(est["wait_mean"], theory.mm1_mean_wait_s(rate_rps, SERVICE_RATE_RPS),
                          f"{case} mean wait")


def test_md1_mean_wait():
    expected = theory.md1_mean_wait_s(700.0, 1 / SERVICE_RATE_RPS)
    assert_matches_theory(per_replication("md1_rho07")["wait_mean"], expected, "M/D/1 wait")


def test_mg1_mean_wait_gamma_cv05():
    expected = theory.mg1_mean_wait_s(700.0, 1 / SERVICE_RATE_RPS, 0.5)
    assert_matches_theory(per_replication("mg1_gamma_rho07")["wait_mean"], expected,
                          "M/G/1 (gamma, cv 0.5) wait")


def test_mm3_mean_wait_erlang_c():
    expected = theory.mmc_mean_wait_s(3, 2400.0, SERVICE_RATE_RPS)
    assert_matches_theory(per_replication("mm3_rho08")["wait_mean"], expected, "M/M/3 wait")


@pytest.mark.parametrize(("max_batch", "load"), [case[:2] for case in BULK_CASES])
def test_dynamic_batching_without_delay_is_bulk_service(max_batch, load):
    rate_rps = load * max_batch * SERVICE_RATE_RPS
    expected = theory.bulk_mean_wait_s(rate_rps, SERVICE_RATE_RPS, max_batch)
    assert_matches_theory(per_replication(f"bulk_b{max_batch}_load{load}")["wait_mean"],
                          expected, f"M/M^[1,{max_batch}]/1 wait at load {load}")


# -- theory.py on its own ------------------------------------------------------------------
def bulk_ctmc_lq(rate_rps: float, batch_rate_rps: float, max_batch: int,
                 levels: int) -> tuple[float, float]:
    """(Lq, P(idle)) of M/M^[1,b]/1 from its truncated CTMC, solved numerically.

    States: 0 = idle, 1 + n = busy with n waiting (n = 0..levels). An arrival
    to an idle server starts a batch of one; a batch end takes min(n, b) of the
    n waiting into a new batch, or idles the server when none wait.
    """
    size = levels + 2
    q = np.zeros((size, size))
    q[0, 1] = rate_rps
    for n in range(levels + 1):
        state = 1 + n
        if n < levels:
            q[state, state + 1] += rate_rps
        q[state, 0 if n == 0 else 1 + max(n - max_batch, 0)] += batch_rate_rps
    np.fill_diagonal(q, q.diagonal() - q.sum(axis=1))
    system = q.T.copy()
    system[-1, :] = 1.0  # replace one balance equation by sum(pi) = 1
    rhs = np.zeros(size)
    rhs[-1] = 1.0
    pi = np.linalg.solve(system, rhs)
    # the mass cut off decays geometrically past the last level: at 1e-13 it moves Lq far
    # less than the 1e-6 tolerance
    assert pi[-1] < 1e-13, "truncation too short"
    return float(np.arange(levels + 1) @ pi[1:]), float(pi[0])


@pytest.mark.parametrize(("rate_rps", "batch_rate_rps", "max_batch"), [
    (0.5, 1.0, 1), (3.0, 2.0, 2), (2000.0, 1000.0, 4), (3200.0, 1000.0, 4),
    (8000.0, 1000.0, 16), (12800.0, 1000.0, 16), (20.0, 1.0, 40),
])
def test_bulk_formula_matches_its_markov_chain(rate_rps, batch_rate_rps, max_batch):
    lq_ctmc, idle_ctmc = bulk_ctmc_lq(rate_rps, batch_rate_rps, max_batch, levels=1200)
    lq = theory.bulk_mean_queue_length(rate_rps, batch_rate_rps, max_batch)
    assert lq == pytest.approx(lq_ctmc, rel=1e-6, abs=1e-9)
    r = theory.bulk_root(rate_rps, batch_rate_rps, max_batch)
    c = 1.0 / (batch_rate_rps / rate_rps + 1.0 / (1.0 - r))
    assert c * batch_rate_rps / rate_rps == pytest.approx(idle_ctmc, rel=1e-6)
    assert theory.bulk_mean_wait_s(rate_rps, batch_rate_rps, max_batch) == pytest.approx(
        lq / rate_rps)


@pytest.mark.parametrize("rho", [0.1, 0.5, 0.9, 0.99])
def test_bulk_with_batches_of_one_is_mm1(rho):
    lq_mm1 = rho**2 / (1 - rho)
    assert theory.bulk_mean_queue_length(rho * 7.0, 7.0, 1) == pytest.approx(lq_mm1, rel=1e-12)
    assert theory.bulk_mean_wait_s(rho * 7.0, 7.0, 1) == pytest.approx(
        theory.mm1_mean_wait_s(rho * 7.0, 7.0), rel=1e-12)


def test_bulk_wait_falls_as_batches_grow():
    waits = [theory.bulk_mean_wait_s(900.0, 1000.0, b) for b in (1, 2, 4, 16)]
    assert all(a > b for a, b in zip(waits, waits[1:], strict=False))


@pytest.mark.parametrize("rho", [0.05, 0.5, 0.95])
def test_erlang_c_with_one_server_is_rho(rho):
    assert theory.erlang_c(1, rho * 3.0, 3.0) == pytest.approx(rho, rel=1e-12)
    assert theory.mmc_mean_wait_s(1, rho * 3.0, 3.0) == pytest.approx(
        theory.mm1_mean_wait_s(rho * 3.0, 3.0), rel=1e-12)


def test_erlang_c_two_servers_by_hand():
    # a = 1 erlang on 2 servers: B = (1/2) / (1 + 1 + 1/2) = 1/5, C = 2B / (2 - a (1 - B)) = 1/3
    assert theory.erlang_b(2, 1.0) == pytest.approx(0.2, rel=1e-12)
    assert theory.erlang_c(2, 1.0, 1.0) == pytest.approx(1 / 3, rel=1e-12)
    assert theory.mmc_mean_wait_s(2, 1.0, 1.0) == pytest.approx(1 / 3, rel=1e-12)


def erlang_c_log_space(servers: int, offered: float) -> float:
    """Erlang C from its definition, summed in log space (independent of the recursion)."""
    log_terms = [k * math.log(offered) - gammaln(k + 1) for k in range(servers)]
    log_last = (servers * math.log(offered) - gammaln(servers + 1)
                + math.log(servers / (servers - offered)))
    return math.exp(log_last - logsumexp([*log_terms, log_last]))


@pytest.mark.parametrize(("servers", "rho"), [(3, 0.8), (50, 0.9), (300, 0.95), (500, 0.99)])
def test_erlang_c_is_stable_for_many_servers(servers, rho):
    value = theory.erlang_c(servers, rho * servers * 2.0, 2.0)
    assert 0 < value < 1
    assert value == pytest.approx(erlang_c_log_space(servers, rho * servers), rel=1e-9)


def test_md1_wait_is_half_the_mm1_wait():
    assert theory.md1_mean_wait_s(600.0, 0.001) == pytest.approx(
        theory.mm1_mean_wait_s(600.0, 1000.0) / 2, rel=1e-12)


def test_mg1_with_cv_one_is_mm1():
    assert theory.mg1_mean_wait_s(600.0, 0.001, 1.0) == pytest.approx(
        theory.mm1_mean_wait_s(600.0, 1000.0), rel=1e-12)


def test_mm1_sojourn_quantile_is_the_exponential_quantile():
    for q in (0.0, 0.5, 0.9, 0.99, 0.999):
        assert theory.mm1_sojourn_quantile_s(800.0, 1000.0, q) == pytest.approx(
            stats.expon.ppf(q, scale=1 / 200.0), rel=1e-12, abs=1e-15)
    assert theory.mm1_mean_sojourn_s(800.0, 1000.0) == pytest.approx(1 / 200.0)
    assert theory.mm1_mean_sojourn_s(800.0, 1000.0) == pytest.approx(
        theory.mm1_mean_wait_s(800.0, 1000.0) + 1 / 1000.0)


def test_priority_waits_conserve_the_fifo_work():
    rates, mu = [100.0, 300.0, 250.0], 1000.0
    waits = theory.mm1_priority_mean_waits_s(rates, mu)
    assert waits == sorted(waits)  # higher priority waits less
    # Kleinrock's conservation law: with equal service times the rate-weighted mean
    # wait does not depend on the order of service.
    weighted = sum(r * w for r, w in zip(rates, waits, strict=True)) / sum(rates)
    assert weighted == pytest.approx(theory.mm1_mean_wait_s(sum(rates), mu), rel=1e-12)
    assert theory.mm1_priority_mean_waits_s([650.0], mu)[0] == pytest.approx(
        theory.mm1_mean_wait_s(650.0, mu), rel=1e-12)


def test_fork_join():
    mu = 4.0
    assert theory.fork_join2_mean_response_s(1e-9, mu) == pytest.approx(1.5 / mu, rel=1e-8)
    assert theory.fork_join_low_load_response_s(2, mu) == pytest.approx(1.5 / mu)
    assert theory.fork_join_low_load_response_s(1, mu) == pytest.approx(1 / mu)
    assert theory.fork_join_low_load_response_s(3, mu) == pytest.approx((1 + 1 / 2 + 1 / 3) / mu)
    # forking costs more than one M/M/1 and less than two in series
    one = theory.mm1_mean_sojourn_s(2.0, mu)
    assert one < theory.fork_join2_mean_response_s(2.0, mu) < 2 * one


@pytest.mark.parametrize("call", [
    lambda: theory.mm1_mean_sojourn_s(1000.0, 1000.0),
    lambda: theory.mm1_mean_wait_s(1200.0, 1000.0),
    lambda: theory.mm1_sojourn_quantile_s(1000.0, 1000.0, 0.99),
    lambda: theory.mg1_mean_wait_s(1000.0, 0.001, 0.5),
    lambda: theory.md1_mean_wait_s(2000.0, 0.001),
    lambda: theory.erlang_c(3, 3000.0, 1000.0),
    lambda: theory.mmc_mean_wait_s(3, 3500.0, 1000.0),
    lambda: theory.bulk_mean_wait_s(4000.0, 1000.0, 4),
    lambda: theory.bulk_mean_queue_length(5000.0, 1000.0, 4),
    lambda: theory.mm1_priority_mean_waits_s([600.0, 400.0], 1000.0),
    lambda: theory.fork_join2_mean_response_s(1000.0, 1000.0),
])
def test_unstable_queues_are_refused(call):
    with pytest.raises(ValueError, match="unstable"):
        call()


@pytest.mark.parametrize("call", [
    lambda: theory.mm1_mean_sojourn_s(0.0, 1000.0),
    lambda: theory.mm1_sojourn_quantile_s(500.0, 1000.0, 1.0),
    lambda: theory.mg1_mean_wait_s(500.0, 0.001, -0.5),
    lambda: theory.erlang_c(0, 1.0, 1.0),
    lambda: theory.bulk_mean_wait_s(500.0, 1000.0, 0),
    lambda: theory.harmonic_number(0),
])
def test_bad_arguments_are_refused(call):
    with pytest.raises(ValueError):
        call()
