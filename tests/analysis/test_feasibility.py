"""SLO targets and the sequential feasibility test."""

import math

import numpy as np
import pytest

from simulator.analysis.feasibility import (
    FEASIBLE,
    INFEASIBLE,
    UNDECIDED,
    SloTarget,
    alpha_at_look,
    look_sizes,
    parse_slo,
    sequential_test,
)
from simulator.model.errors import ScenarioError
from simulator.sim.records import COMPLETED, IN_FLIGHT, REJECTED, ReplicationRecord


@pytest.mark.parametrize("text, statistic, limit", [
    ("p99=100ms", "p99", 0.1), ("P50=20ms", "p50", 0.02), ("p99.9=1s", "p99.9", 1.0),
    ("mean=5ms", "mean", 0.005), ("goodput=95%", "goodput", 0.95), ("goodput=0.9", "goodput", 0.9),
])
def test_parse_slo(text, statistic, limit):
    target = parse_slo(text)
    assert target.statistic == statistic and target.limit == pytest.approx(limit)


@pytest.mark.parametrize("text", ["p99", "p100=1ms", "p0=1ms", "q99=1ms", "p99=-1ms",
                                  "p99=fast", "goodput=150%", "goodput=x", "=5ms"])
def test_bad_slo_specs(text):
    with pytest.raises(ScenarioError, match="--slo"):
        parse_slo(text)


def _record(latencies, outcomes):
    n = len(latencies)
    arrival = np.arange(n, dtype=float)
    return ReplicationRecord(
        replication=0, warmup_s=0.0, end_s=float(n + 10), servers=1, timeout_s=None,
        arrival_s=arrival, batch=np.arange(n), outcome=np.array(outcomes, dtype=np.int8),
        batch_start_s=arrival, batch_finish_s=arrival + np.array(latencies),
        batch_size=np.ones(n, dtype=np.int64), batch_charged=np.ones(n, dtype=np.int64),
        batch_server=np.zeros(n, dtype=np.int64))


def test_dropped_requests_count_as_misses():
    latencies = [0.01] * 97 + [0.02, 0.02, 0.02]
    record = _record(latencies, [COMPLETED] * 100)
    assert SloTarget("p99", 0.1).value(record, None) == pytest.approx(0.02)
    outcomes = [COMPLETED] * 98 + [REJECTED] * 2
    lossy = _record(latencies, outcomes)
    assert math.isinf(SloTarget("p99", 0.1).value(lossy, None))
    assert SloTarget("p97", 0.1).value(lossy, None) == pytest.approx(0.01)
    assert SloTarget("goodput", 0.9).value(lossy, 0.015) == pytest.approx(0.97)


def test_alpha_spending_sums_below_alpha():
    assert sum(alpha_at_look(0.05, k) for k in range(1, 30)) < 0.05
    assert look_sizes(3, 20) == [3, 6, 12, 20] and look_sizes(1, 2) == [2]


def _normal_source(mean, sd, rng, target):
    def more(start, stop):
        return {target: list(rng.normal(mean, sd, stop - start))}
    return more


def test_false_feasible_rate_stays_below_alpha():
    """A configuration just above its limit must rarely be called feasible."""
    rng = np.random.default_rng(11)
    target = SloTarget("p99", 0.100)
    trials, alpha = 2000, 0.05
    false_feasible = sum(
        sequential_test(_normal_source(0.1005, 0.01, rng, target), [target], alpha, 3, 48)
        .verdict == FEASIBLE for _ in range(trials))
    rate = false_feasible / trials
    assert rate <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / trials)


def test_clear_cases_stop_early_and_close_cases_use_more_replications():
    rng = np.random.default_rng(2)
    target = SloTarget("p99", 0.1)
    clear = sequential_test(_normal_source(0.05, 0.005, rng, target), [target], 0.05, 3, 48)
    assert clear.verdict == FEASIBLE and clear.replications == 3
    bad = sequential_test(_normal_source(0.2, 0.005, rng, target), [target], 0.05, 3, 48)
    assert bad.verdict == INFEASIBLE and bad.replications == 3
    close = sequential_test(_normal_source(0.1, 0.01, rng, target), [target], 0.05, 3, 48)
    assert close.replications > 3
    assert close.verdict in (UNDECIDED, INFEASIBLE, FEASIBLE)


def test_targets_read_latency_on_the_client_clock():
    """A fixed 10 ms hand-off outside the server adds exactly 10 ms to every statistic."""
    from simulator.model.scenario import Scenario
    from simulator.sim import simulate

    base = {"name": "c", "seed": 2, "run": {"duration": "20s", "warmup": "2s"},
            "arrival": {"process": "poisson", "rate": 100},
            "batching": {"policy": "none"},
            "service": {"base": "2ms", "per_item": 0, "distribution": "deterministic"}}
    plain = Scenario.model_validate(base)
    shifted = plain.with_overrides({"service.overhead.before": "10ms"})
    for statistic in ("p50", "p99", "mean"):
        target = SloTarget(statistic, 1.0)
        gap_s = target.value(simulate(shifted), None) - target.value(simulate(plain), None)
        assert gap_s == pytest.approx(0.010, abs=2e-5)  # the last 10 ms of sends differ


def test_requests_in_flight_at_the_end_are_misses_only_once_overdue():
    record = _record([0.01, 0.01, 0.01, 0.01], [COMPLETED, COMPLETED, COMPLETED, IN_FLIGHT])
    age_s = record.end_s - record.arrival_s[3]
    assert SloTarget("mean", age_s * 2).value(record, None) == pytest.approx(0.01)
    assert SloTarget("mean", age_s / 2).value(record, None) == math.inf
    assert SloTarget("goodput", 0.9).value(record, 0.05) == pytest.approx(0.75)
