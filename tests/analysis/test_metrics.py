"""Summary statistics: Little's law, utilisation, saturation, CI half-widths."""

import math

import numpy as np
import pytest
from scipy import stats

from simulator.analysis.metrics import WindowView, distribution, t_half_width
from simulator.analysis.percentiles import percentiles
from simulator.analysis.student_t import T_975, t_quantile
from simulator.experiments.runner import run
from simulator.sim import simulate

from conftest import make_scenario


def test_t_half_width_matches_the_t_quantile():
    values = [1.0, 2.0, 4.0, 3.0]
    expected = stats.t.ppf(0.975, 3) * np.std(values, ddof=1) / 2
    assert t_half_width(values) == pytest.approx(expected)
    assert t_half_width([1.0]) is None
    assert t_half_width([1.0, None, float("nan")]) is None


def test_the_t_table_holds_scipys_own_quantiles():
    for df in range(1, len(T_975) + 3):  # the table, then scipy beyond it
        assert t_quantile(0.975, df) == float(stats.t.ppf(0.975, df)), df
    assert t_quantile(0.9875, 4) == float(stats.t.ppf(0.9875, 4))


@pytest.mark.parametrize("size", [1, 2, 3, 10, 101, 1000, 12_345])
def test_percentiles_are_numpys_to_the_last_bit(size):
    rng = np.random.default_rng(size)
    qs = [0, 1, 25, 50, 90, 95, 99, 99.9, 99.99, 100]
    for samples in (rng.lognormal(size=size), rng.integers(0, 5, size) * 0.25,
                    rng.integers(-3, 40, size), np.full(size, 7.5)):
        expected = np.percentile(samples, qs)
        assert percentiles(samples, qs).tolist() == expected.tolist()
        assert percentiles(samples.copy(), qs, scratch=True).tolist() == expected.tolist()
    with_nan = rng.random(size)
    with_nan[size // 2] = np.nan
    assert np.isnan(percentiles(with_nan, qs)).all()


def test_distribution_in_place_gives_the_same_figures():
    samples = np.random.default_rng(3).exponential(size=10_001)
    copy = samples.copy()
    assert distribution(samples) == distribution(copy, scratch=True)
    assert np.array_equal(np.sort(copy), np.sort(samples))  # reordered, nothing lost


def test_distribution_of_nothing_is_all_none():
    assert set(distribution(np.array([])).values()) == {None}
    d = distribution(np.arange(1, 101, dtype=float))
    assert d["p50"] == pytest.approx(50.5) and d["max"] == 100 and d["mean"] == 50.5


def _time_average_in_system(record, t0, t1):
    """Integral of the number in system over [t0, t1] / (t1 - t0), from the request times."""
    admitted = record.outcome != 2
    enter = record.arrival_s[admitted]
    leave = np.nan_to_num(record.finish_s[admitted], nan=np.inf)
    overlap = np.clip(np.minimum(leave, t1) - np.maximum(enter, t0), 0, None)
    return overlap.sum() / (t1 - t0)


@pytest.mark.parametrize("policy", ["dynamic", "window", "torchserve", "tfserving"])
def test_littles_law_on_each_policy(policy):
    """L = lambda W: time-average number in system vs arrival rate x mean latency."""
    scenario = make_scenario(
        run={"duration": 60, "warmup": 5, "replications": 4},
        arrival={"process": "gamma", "rate": 900, "cv": 1.5},
        batching={"policy": policy, "max_batch_size": 8, "max_queue_delay": "3ms"},
        service={"base": "2ms", "per_item": "0.6ms", "distribution": "lognormal", "cv": 0.3},
    )
    diffs = []
    for k in range(scenario.run.replications):
        rec = simulate(scenario, k)
        view = WindowView(rec)
        lam = view.arrivals / view.window_s
        l_time = _time_average_in_system(rec, rec.warmup_s, rec.end_s)
        diffs.append(l_time - lam * view.latency_s.mean())
    se = np.std(diffs, ddof=1) / math.sqrt(len(diffs))
    # boundary effects (requests straddling warm-up and end) are O(1/window)
    assert abs(np.mean(diffs)) <= 4 * se + 0.02 * l_time


def _se(summary, key):
    values = [p[key] for p in summary["per_replication"]]
    return np.std(values, ddof=1) / math.sqrt(len(values))


def test_utilisation_and_throughput_of_a_stable_queue():
    lam, service_s = 300.0, 0.002
    scenario = make_scenario(
        run={"duration": 60, "warmup": 5, "replications": 4},
        arrival={"process": "poisson", "rate": lam},
        batching={"policy": "none"},
        service={"base": service_s, "distribution": "exponential"},
    )
    s = run(scenario).summary
    assert abs(s["utilization"] - lam * service_s) < 4 * _se(s, "utilization") + 1e-3
    assert abs(s["throughput"] - lam) < 4 * _se(s, "throughput") + 0.5
    assert list(s["batch_size"]["histogram"]) == ["1"]
    assert not s["saturated"]


def test_overload_is_flagged_saturated_and_books_still_balance():
    scenario = make_scenario(
        run={"duration": 20, "warmup": 2, "replications": 2},
        arrival={"process": "poisson", "rate": 3000},
        queue={"capacity": 500},
    )
    s = run(scenario).summary
    c = s["requests"]
    assert s["saturated"]
    assert c["arrived"] == c["completed"] + c["rejected"] + c["timed_out"] + c["in_flight"]
    assert c["rejected"] > 0
    assert s["throughput"] == pytest.approx(scenario.capacity_rps, rel=0.02)


def test_slo_attainment_counts_drops_as_misses():
    scenario = make_scenario(
        run={"duration": 20, "warmup": 2, "replications": 2},
        arrival={"process": "poisson", "rate": 2500},
        queue={"timeout": "20ms"},
        slo={"latency": "1s", "percentile": 99},
    )
    s = run(scenario).summary
    assert s["requests"]["timed_out"] > 0
    dropped_share = s["requests"]["timed_out"] / s["requests"]["arrived"]
    assert s["slo_attainment"] <= 1 - 0.9 * dropped_share
    assert s["goodput"] == pytest.approx(s["slo_attainment"] * s["offered_rate"], rel=1e-9)
