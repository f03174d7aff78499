"""Statistical rigour: automatic warm-up, target precision, honest warnings."""

import math

import numpy as np
import pytest

from simulator.analysis import theory
from simulator.analysis.warmup import mser5_cut
from simulator.experiments.runner import run, statistic

from conftest import make_scenario


def test_mser5_cuts_a_ramp_and_leaves_stationary_data_alone():
    rng = np.random.default_rng(5)
    i = np.arange(6000)
    ramp = 10 * (1 - np.exp(-i / 200)) + rng.normal(0, 1, i.size)
    assert 2 * 200 <= mser5_cut(ramp) <= 8 * 200
    cuts = [mser5_cut(rng.normal(0, 1, 6000)) for _ in range(20)]
    assert np.median(cuts) < 0.05 * 6000
    assert mser5_cut(np.ones(12)) == 0 and mser5_cut(np.arange(3.0)) == 0


def test_auto_warmup_removes_the_empty_start_transient():
    """M/M/1 at rho 0.9 starting empty: short runs underestimate the mean latency
    unless the transient is cut; the cut lands around the relaxation time."""
    lam, mu = 900.0, 1000.0
    expected_s = theory.mm1_mean_sojourn_s(lam, mu)
    results = {}
    for warmup in (0.0, "auto"):
        scenario = make_scenario(
            run={"duration": 3, "warmup": warmup, "replications": 120},
            arrival={"process": "poisson", "rate": lam}, batching={"policy": "none"},
            service={"base": 1 / mu, "distribution": "exponential"})
        results[warmup] = run(scenario, workers=2).summary
    auto, none = results["auto"], results[0.0]
    per_rep = [p["latency"]["mean"] for p in auto["per_replication"]]
    se = np.std(per_rep, ddof=1) / math.sqrt(len(per_rep))
    assert se < 0.05 * expected_s
    assert abs(auto["latency"]["mean"] - expected_s) <= 3 * se
    assert none["latency"]["mean"] < auto["latency"]["mean"]
    cuts = auto["warmup_auto"]["cuts_s"]
    relaxation_s = 1 / (mu * (1 - math.sqrt(lam / mu)) ** 2)
    assert 0.5 * relaxation_s < np.median(cuts) < 1.5  # cut, and not half the run
    assert auto["warmup_s"] == pytest.approx(np.mean(cuts))


def test_target_precision_adds_replications_until_reached():
    scenario = make_scenario(
        run={"duration": 5, "warmup": 0.5, "replications": 2,
             "target_precision": {"p99": "1%"}, "max_replications": 40})
    summary = run(scenario).summary
    report = summary["precision"]["latency.p99"]
    estimate, half_width = statistic(summary, "latency.p99")
    assert report["reached"] and half_width / estimate <= 0.01
    assert report["achieved"] == pytest.approx(half_width / estimate)
    assert summary["replications"] > 2


def test_target_precision_stops_at_the_maximum_and_says_so():
    scenario = make_scenario(
        run={"duration": 2, "warmup": 0.2, "replications": 2,
             "target_precision": {"p999": "0.01%"}, "max_replications": 4})
    summary = run(scenario).summary
    assert summary["replications"] == 4
    assert summary["precision"]["latency.p999"]["reached"] is False


def test_target_precision_is_deterministic():
    scenario = make_scenario(run={"duration": 2, "warmup": 0.2, "replications": 2,
                                  "target_precision": {"throughput": "0.5%"},
                                  "max_replications": 12})
    assert run(scenario).to_json() == run(scenario, workers=2).to_json()


def test_short_runs_and_unstable_systems_are_warned_about():
    short = make_scenario(run={"duration": 0.5, "warmup": 0.1, "replications": 2})
    notes = run(short).summary["warnings"]
    assert any("beyond p99" in n and "noisy" in n for n in notes)
    overloaded = make_scenario(arrival={"process": "poisson", "rate": 3000},
                               run={"duration": 5, "warmup": 0.5, "replications": 2})
    notes = run(overloaded).summary["warnings"]
    assert any("unstable" in n for n in notes)
    fine = make_scenario(run={"duration": 30, "warmup": 1, "replications": 2})
    assert run(fine).summary["warnings"] == []
