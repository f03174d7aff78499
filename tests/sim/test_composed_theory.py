"""Combined sections against queueing theory (issue 12, "everything composes").

Each statistical case runs independent replications and asks that the mean of
the per-replication estimates lies within SE_TOLERANCE standard errors of the
formula; no float is pinned to a seed. A case whose standard error is too
large to discriminate (above MAX_RELATIVE_SE of the expected value) fails too,
so a lucky noisy run cannot pass. The expected values come from formulas in
`simulator.theory` or derived in the docstrings here.

- Stages of replicated pools: a feed-forward Jackson network (M/M/c stations
  after random splits of a Poisson stream).
- Faults with replicas, overloaded: availability-weighted capacity less the
  work lost in cut batches (exact renewal-reward formulas, both for
  exponential and deterministic service).
- Closed-loop users with a lossy network: the response-time law N = X (R + Z).
- An ensemble whose branches are replicated pools: the join's latency is the
  max (or min) of the branches' latencies; at low load, the max of the
  branches' service times.

Cases marked "today" in their ids use only combinations the two-engine code
accepts, and pass on it: they check the harness and the formulas. The others
need the composed core.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulator import Scenario
from simulator.analysis import theory
from simulator.sim import simulate
from simulator.sim.records import COMPLETED, FAILED, IN_FLIGHT, REJECTED, TIMED_OUT

from invariants import assert_conserved

SE_TOLERANCE = 4.0
MAX_RELATIVE_SE = 0.03


def _records(data: dict, replications: int):
    scenario = Scenario.from_dict(data)
    records = [simulate(scenario, k) for k in range(replications)]
    for record in records:
        assert_conserved(record)
    return records


def _mean_se(values) -> tuple[float, float]:
    data = np.asarray(values, dtype=float)
    return float(data.mean()), float(data.std(ddof=1) / math.sqrt(data.size))


def _assert_close(values, expected: float, what: str, allowance: float = 0.0) -> None:
    """The replications' mean within SE_TOLERANCE standard errors (+ `allowance`, a
    documented bias bound) of `expected`, and the SE small enough to mean something."""
    mean, se = _mean_se(values)
    report = f"{what}: sim {mean:.6g} (SE {se:.3g}), theory {expected:.6g}"
    assert se < MAX_RELATIVE_SE * abs(expected), "standard error too large to test: " + report
    assert abs(mean - expected) <= SE_TOLERANCE * se + allowance, report


def _window(record) -> tuple[float, float]:
    return record.warmup_s, record.end_s


# -- 1. stages of replicated pools: a Jackson network ---------------------------------
def mmc_sojourn_s(servers: int, arrival_rate_rps: float, service_rate_rps: float) -> float:
    """M/M/c mean sojourn: Erlang-C wait (simulator.theory) plus one service."""
    return theory.mmc_mean_wait_s(servers, arrival_rate_rps, service_rate_rps) \
        + 1.0 / service_rate_rps


EXP = "exponential"
JACKSON = {
    # λ, top-level replicas (the default of a stage without its own), stages as
    # (servers, mean service, the stage's own replicas or None)
    "tandem-today": (600.0, None, [(1, 0.001, None), (2, 0.0008, None)]),
    "replicated-stages": (2000.0, {"count": 2, "router": "random"},
                          [(1, 0.001, {"count": 3, "router": "random"}),
                           (2, 0.0008, None)]),
    "three-replicated-stages": (1200.0, None,
                                [(2, 0.002, {"count": 2, "router": "random"}),
                                 (1, 0.0005, None),
                                 (1, 0.001, {"count": 4, "router": "random"})]),
}


def _jackson_scenario(case: str, seed: int) -> tuple[dict, list[float]]:
    """The scenario of `case` and each stage's M/M/c mean sojourn.

    Random routing splits a Poisson stream of rate λ into `count` independent
    Poisson streams of λ/count; by Burke's theorem each M/M/c station's departures
    are Poisson again, and merging the replicas of a stage gives Poisson λ into the
    next. The network is a feed-forward Jackson network, so each station is an
    M/M/c at its own rate and the mean end-to-end latency is the sum, over the
    stages, of one replica's mean sojourn (all replicas of a stage are alike).
    """
    lam, default_replicas, stages = JACKSON[case]
    sections, expected = [], []
    for k, (servers, service_s, replicas) in enumerate(stages):
        stage = {"name": f"s{k}", "batching": {"policy": "none"},
                 "service": {"base": service_s, "distribution": EXP},
                 "servers": {"count": servers}}
        if replicas is not None:
            stage["replicas"] = replicas
        count = (replicas or default_replicas or {"count": 1})["count"]
        expected.append(mmc_sojourn_s(servers, lam / count, 1.0 / service_s))
        sections.append(stage)
    data = {"name": "jackson", "seed": seed,
            "run": {"duration": 9.0, "warmup": 1.0, "replications": 1},
            "arrival": {"process": "poisson", "rate": lam},
            "service": {"base": 0.001, "distribution": EXP}, "stages": sections}
    if default_replicas is not None:
        data["replicas"] = default_replicas
    return data, expected


CENSOR_S = 0.25
"""Requests sent in the last CENSOR_S are left out: at these loads nearly all of them
finish well within it, so the mean is not biased towards those that finished first."""


@pytest.mark.parametrize("case", list(JACKSON))
def test_stages_of_replicated_pools_are_a_jackson_network(case):
    data, per_stage = _jackson_scenario(case, seed=41 + list(JACKSON).index(case))
    stages = len(per_stage)
    end_to_end, by_stage = [], [[] for _ in range(stages)]
    for record in _records(data, replications=8):
        start, end = _window(record)
        sent = (record.sent_s >= start) & (record.sent_s < end - CENSOR_S)
        done = sent & (record.client_outcome == COMPLETED)
        # unlimited queues, no timeouts: every request sent early enough is answered
        assert done.sum() >= 0.999 * sent.sum(), "requests lost in a lossless network"
        end_to_end.append(np.mean(record.received_s[done] - record.sent_s[done]))
        # request j is tasks j*S .. j*S+S-1, one per stage (the record's layout)
        sojourn = (record.finish_s - record.arrival_s).reshape(-1, stages)
        for s in range(stages):
            by_stage[s].append(np.mean(sojourn[done, s]))
    _assert_close(end_to_end, sum(per_stage), f"{case}: mean end-to-end latency")
    for s, expected in enumerate(per_stage):
        _assert_close(by_stage[s], expected, f"{case}: stage {s} mean sojourn")


# -- 2. faults with replicas: availability-weighted capacity ---------------------------
def completions_per_up_period(service: str, service_s: float, mtbf_s: float) -> float:
    """E[K]: batches one server completes in an up period, when it is never idle.

    Up periods U are Exp(mean M = MTBF), repairs D are Exp(mean R = MTTR). The
    system is overloaded, so every server of an up replica is always busy; an
    outage cuts the batch in service (its requests are retried or lost) and after
    the repair each server starts a fresh batch. With batching `none` each batch
    is one request, so requests completed = batches completed.

    By renewal-reward over the cycles U + D, a replica of c servers completes
    X = c E[K] / (M + R) requests per second. Written as availability-weighted
    capacity less the lost work: X = c (E[U] - E[lost]) / ((M + R) E[S_done]),
    where E[lost] is the elapsed part of the cut batch and E[S_done] the mean
    length of a completed one.

    - Deterministic service s: K = floor(U / s), so
      E[K] = sum_{k>=1} P(U >= k s) = sum e^{-k s / M} = 1 / (e^{s/M} - 1),
      and the lost work is E[lost] = M - s E[K] (-> s/2 when s << M: the cut
      batch is on average half done). The naive A c / s overstates X by the
      factor (s/M) / (1 - e^{-s/M}) > 1.
    - Exponential service (rate mu): the completions in an up period are a
      Poisson process of rate mu on [0, U], so E[K] = mu M and X = A c mu
      exactly, with A = M / (M + R). Work is still lost, E[lost] = E[min(U, age)]
      = 1 / (mu + 1/M), but memorylessness makes it up exactly: a batch that
      completes before the failure is Exp(mu + 1/M), shorter than 1/mu on average,
      and (M - E[lost]) / E[S_done] = mu M. Subtracting E[lost] mu from A c mu, as
      if completed batches averaged 1/mu, would be wrong by c / (M + R) per second
      times mu / (mu + 1/M).
    """
    if service == "deterministic":
        return 1.0 / math.expm1(service_s / mtbf_s)
    return mtbf_s / service_s


FAULT_REPLICAS = {"count": 2, "router": "random", "service_time_factor": [1.0, 1.5]}
FAULT_SERVERS, MTBF_S, MTTR_S, BASE_S = 2, 0.010, 0.005, 0.002


def _faults_scenario(service: str, in_flight: str, seed: int) -> dict:
    capacity = FAULT_SERVERS * sum(1 / (BASE_S * f) for f in FAULT_REPLICAS["service_time_factor"])
    return {"name": "faults", "seed": seed,
            "run": {"duration": 8.0, "warmup": 1.0, "replications": 1},
            # each replica alone must stay overloaded on its random half of the stream
            "arrival": {"process": "poisson", "rate": 2.4 * capacity},
            "batching": {"policy": "none"},
            "service": {"base": BASE_S, "distribution": service},
            "servers": {"count": FAULT_SERVERS}, "replicas": FAULT_REPLICAS,
            "faults": {"mtbf": MTBF_S, "mttr": MTTR_S, "in_flight": in_flight}}


@pytest.mark.parametrize("in_flight", ["retry", "lost"])
@pytest.mark.parametrize("service", ["exponential", "deterministic"])
def test_overloaded_replicas_with_faults_deliver_available_capacity_less_lost_work(
        service, in_flight):
    seed = 51 + 2 * (service == "deterministic") + (in_flight == "lost")
    data = _faults_scenario(service, in_flight, seed)
    factors = FAULT_REPLICAS["service_time_factor"]
    cycle_s = MTBF_S + MTTR_S
    throughput = [[] for _ in factors]
    cuts = [[] for _ in factors]
    for record in _records(data, replications=8):
        start, end = _window(record)
        finish = record.batch_finish_s
        in_window = (finish >= start) & (finish <= end)
        failed = record.outcome == FAILED
        cut = in_window & (record.batch_size == 0)
        for i in range(len(factors)):
            mine = record.batch_replica == i
            throughput[i].append(np.sum(record.batch_size[in_window & mine]) / (end - start))
            cuts[i].append(np.sum(cut & mine) / (end - start))
        # each cut batch held one request (batching none): lost ones fail, retried do not
        all_cut = int(np.sum(record.batch_size == 0))
        assert int(failed.sum()) == (all_cut if in_flight == "lost" else 0)
    for i, factor in enumerate(factors):
        per_server = completions_per_up_period(service, BASE_S * factor, MTBF_S) / cycle_s
        _assert_close(throughput[i], FAULT_SERVERS * per_server,
                      f"replica {i} ({service}, {in_flight}): completions per second")
        # every outage cuts the batch on each of the replica's (always busy) servers
        _assert_close(cuts[i], FAULT_SERVERS / cycle_s, f"replica {i}: cut batches per second")


def test_the_lost_work_is_visible_with_deterministic_service():
    """The deterministic case above differs from the naive A c / s by more than the test's
    resolution, so a core that resumed cut batches (no lost work) would fail it."""
    for factor in FAULT_REPLICAS["service_time_factor"]:
        s = BASE_S * factor
        naive = MTBF_S / s
        assert completions_per_up_period("deterministic", s, MTBF_S) < 0.92 * naive
        assert completions_per_up_period("exponential", s, MTBF_S) == pytest.approx(naive)


# -- 3. closed loop behind a lossy network: N = X (R + Z) ------------------------------
USERS, THINK_S = 8, 0.010
NETWORK = {"delay": {"mean": "1ms", "distribution": "lognormal", "cv": 0.5},
           "failure_probability": 0.25, "lost_on": "both", "timeout": "15ms",
           "backoff": "2ms", "max_retries": 2}


def _closed_scenario(network: dict | None, seed: int) -> dict:
    data = {"name": "closed-net", "seed": seed,
            "run": {"duration": 8.0, "warmup": 0.5, "replications": 1},
            "arrival": {"process": "closed", "users": USERS,
                        "think_time": THINK_S},
            "batching": {"policy": "none"},
            "service": {"base": "1ms", "distribution": "exponential"}}
    if network is not None:
        data["network"] = network
    return data


def cycles(record) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(first send, end, ended) of each user request.

    A cycle ends when the answer is received, or, when every attempt was lost, when
    the last attempt's timeout expires (the user then thinks again). Without a
    client path in the record the server-side arrays are the user's view.
    """
    if not record.has_client_path:
        done = record.outcome == COMPLETED
        return record.arrival_s, np.where(done, record.finish_s, np.nan), done
    answered = record.client_outcome == COMPLETED
    failed = record.client_outcome == FAILED
    end = np.full(record.sent_s.size, np.nan)
    end[answered] = record.received_s[answered]
    if record.attempts is not None:
        end[failed] = record.last_sent_s[failed] + record.network_timeout_s
    return record.sent_s, end, answered | failed


@pytest.mark.parametrize("network", [None, NETWORK], ids=["no-network-today", "lossy-network"])
def test_closed_loop_with_the_network_path_obeys_the_response_time_law(network):
    """N = X (R + Z) over the window [w, T]: X counts the cycles that end in it
    (answered or failed), R is their mean time from first send to end.

    Each user's cycles ending in the window add up to (T - w) + A_w - A_T, with A_t
    the time since that user's last cycle ended; in steady state E[A_w] = E[A_T],
    so sum(R_i + Z_i) / (T - w) estimates N without bias. The think time is fixed
    (Z_i = Z), so no think time has to be estimated: with a random one, the
    length-biased cycle that straddles w would carry a longer think than average.
    Checked over seeds on the plain closed loop: unbiased to well within one SE.
    """
    estimates, failures, retried = [], 0, 0
    for record in _records(_closed_scenario(network, seed=61), replications=6):
        start, end = _window(record)
        sent, ended_s, ended = cycles(record)
        counted = ended & (ended_s >= start) & (ended_s <= end)
        response_s = ended_s[counted] - sent[counted]
        estimates.append((response_s.sum() + counted.sum() * THINK_S) / (end - start))
        outcome = record.client_outcome if record.has_client_path else record.outcome
        assert (outcome == IN_FLIGHT).sum() <= USERS, "a user with two requests out"
        assert not np.isin(outcome, (REJECTED, TIMED_OUT)).any(), "lost without queue limits"
        if network is not None:
            failures += int((record.client_outcome == FAILED).sum())
            retried += int((record.attempts > 1).sum())
    _assert_close(estimates, USERS, "N = X (R + Z)")
    if network is not None:  # the network really was in the loop
        assert failures > 0 and retried > 0


# -- 4. an ensemble whose branches are replicated pools --------------------------------
BRANCH_FACTORS = [1.0, 2.5]


def _ensemble_scenario(join: dict, replicas: dict | None, arrival: dict, service: dict,
                       duration_s: float, seed: int) -> dict:
    data = {"name": "ens", "seed": seed,
            "run": {"duration": duration_s, "warmup": 0.0, "replications": 1},
            "arrival": arrival, "batching": {"policy": "none"}, "service": service,
            "ensemble": {"branches": len(BRANCH_FACTORS), "service_time_factor": BRANCH_FACTORS,
                         **join}}
    if replicas is not None:
        data["replicas"] = replicas
    return data


REPLICATED = {"count": 3, "router": "round_robin"}
JOINS = {"all": ({"join": "all"}, max), "first": ({"join": "first_k", "k": 1}, min)}


@pytest.mark.parametrize("replicas", [None, REPLICATED], ids=["plain-today", "replicated"])
@pytest.mark.parametrize("join", list(JOINS))
def test_ensemble_of_replicated_pools_at_light_load_answers_with_the_join(join, replicas):
    """Constant arrivals 20 ms apart, deterministic 2 ms service: nothing ever queues, so
    each branch takes exactly its service time and the answer comes with the slowest
    (join all) or the fastest (first of 1) branch; round robin spreads each branch's
    tasks over its replicas in turn."""
    section, pick = JOINS[join]
    base_s = 0.002
    data = _ensemble_scenario(section, replicas, {"process": "constant", "rate": 50},
                              {"base": base_s, "distribution": "deterministic"}, 4.0, 71)
    (record,) = _records(data, replications=1)
    done = record.client_outcome == COMPLETED
    assert done.sum() >= record.sent_s.size - 1
    latency = record.received_s[done] - record.sent_s[done]
    assert np.allclose(latency, pick(BRANCH_FACTORS) * base_s, rtol=0, atol=1e-9)
    branches, count = len(BRANCH_FACTORS), (replicas or {"count": 1})["count"]
    # request j is tasks j*B .. j*B+B-1, one per branch (the record's layout)
    server = record.request_server.reshape(-1, branches)
    served = record.batch.reshape(-1, branches) >= 0
    pools = [set(server[served[:, b], b]) for b in range(branches)]
    assert all(len(pool) == count for pool in pools), pools
    assert not set.intersection(*pools), "two branches share a server"
    for b in range(branches):
        _, per_server = np.unique(server[served[:, b], b], return_counts=True)
        assert per_server.max() - per_server.min() <= 1, "round robin is not in turn"


@pytest.mark.parametrize("replicas", [None, {"count": 2, "router": "random"}],
                         ids=["plain-today", "replicated"])
def test_ensemble_of_replicated_pools_at_low_load_takes_the_max_of_its_branches(replicas):
    """Poisson arrivals at 5/s, exponential service (mu_b = 1000/s / factor_b), random
    routing over `count` replicas per branch: each replica is an M/M/1 at 5/count per
    second, whose sojourn is Exp(mu_b - 5/count). At this load (rho near 1%) the two
    branches' sojourns are nearly independent, and the join-all latency is their max:
    E[max(X1, X2)] = 1/a + 1/b - 1/(a + b) with a, b the two sojourn rates. The
    branches share their arrival times, which correlates them and lowers the max by
    O(rho^2) of it: the 1% allowance. Each answer is also exactly its slowest branch."""
    lam, count = 5.0, (replicas or {"count": 1})["count"]
    a, b = (1000.0 / f - lam / count for f in BRANCH_FACTORS)
    expected = 1 / a + 1 / b - 1 / (a + b)
    data = _ensemble_scenario({"join": "all"}, replicas, {"process": "poisson", "rate": lam},
                              {"base": 0.001, "distribution": EXP}, 250.0, 72)
    means = []
    for record in _records(data, replications=8):
        done = record.client_outcome == COMPLETED
        latency = record.received_s - record.sent_s
        branch = (record.finish_s - record.arrival_s).reshape(-1, len(BRANCH_FACTORS))
        assert np.allclose(latency[done], branch[done].max(axis=1), rtol=0, atol=1e-12)
        means.append(latency[done].mean())
    _assert_close(means, expected, "join-all latency at low load", allowance=0.01 * expected)
