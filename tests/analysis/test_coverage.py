"""The printed 95% intervals cover the truth about 95% of the time (M/M/1, rho 0.8)."""

import pytest

from simulator.analysis.coverage import coverage


@pytest.mark.slow
def test_percentile_intervals_cover_about_95_percent():
    shares = coverage(experiments=200, rho=0.8, requests=50_000, replications=5, workers=2)
    for stat, share in shares.items():
        assert 0.88 <= share <= 0.99, (stat, share)


def test_coverage_machinery_on_a_few_experiments():
    shares = coverage(experiments=4, rho=0.5, requests=5_000, replications=3, workers=2)
    assert set(shares) == {"mean", "p50", "p90", "p99"}
    assert all(0.0 <= s <= 1.0 for s in shares.values())
