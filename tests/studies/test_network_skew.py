"""The network-skew study's claim: lost attempts drag the mean latency up, not p50.

With retries after `timeout + backoff`, a request's latency grows by exactly
(attempts - 1) x (timeout + backoff) over that of its answering attempt, so the
mean grows by (E[attempts] - 1) x (timeout + backoff) (geometric attempts), while
the median barely moves because only a few percent of requests are retried.
"""

import math
from pathlib import Path

import pytest

from simulator import Scenario, run
from simulator.analysis.metrics import t_half_width

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios/network-skew/network-skew.yaml"
SHORT = {"run.duration": "20s", "run.warmup": "2s", "run.replications": 5}


def gap_and_stats(probability: float) -> dict:
    scenario = Scenario.from_yaml(SCENARIO, {**SHORT, "network.failure_probability": probability})
    summary = run(scenario).summary
    reps = [p["latency"] for p in summary["per_replication"]]
    gaps = [r["mean"] - r["p50"] for r in reps]
    return {"gap": sum(gaps) / len(gaps), "gap_ci": t_half_width(gaps),
            "mean": summary["latency"]["mean"], "mean_ci": summary["latency_ci95"]["mean"],
            "p50": summary["latency"]["p50"], "p50_ci": summary["latency_ci95"]["p50"],
            "attempts": summary["network"]["attempts_per_request"], "scenario": scenario}


@pytest.fixture(scope="module")
def series():
    return {p: gap_and_stats(p) for p in (0.0, 0.01, 0.03)}


def test_mean_minus_median_gap_grows_with_the_loss_probability(series):
    points = [series[p] for p in sorted(series)]
    for low, high in zip(points, points[1:], strict=False):
        margin = math.hypot(low["gap_ci"], high["gap_ci"])
        assert high["gap"] - low["gap"] > margin, (low["gap"], high["gap"], margin)


def test_the_median_barely_moves_while_the_mean_does(series):
    base, lossy = series[0.0], series[0.03]
    mean_shift = lossy["mean"] - base["mean"]
    assert mean_shift > math.hypot(base["mean_ci"], lossy["mean_ci"])
    assert abs(lossy["p50"] - base["p50"]) < 0.1 * mean_shift


def test_mean_shift_is_the_retry_penalty(series):
    """Mean grows by (E[attempts] - 1) x (timeout + backoff), within the CIs."""
    base = series[0.0]
    for p in (0.01, 0.03):
        point = series[p]
        network = point["scenario"].network
        expected = (point["attempts"] - 1) * (network.timeout + network.backoff)
        margin = 3 * math.hypot(base["mean_ci"], point["mean_ci"])
        assert abs(point["mean"] - base["mean"] - expected) < margin, (p, expected, margin)
