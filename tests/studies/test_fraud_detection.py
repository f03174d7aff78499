"""The fraud-detection study's claim: no queue delay meets the 3 ms p99, 1 ms breaks it.

Feasibility is judged as batchsim's verdict does: the share of requests within the
SLO, with its 95% CI, against the 99% target.
"""

from pathlib import Path

import pytest

from simulator import Scenario, run

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios/fraud-detection/fraud-detection.yaml"
SHORT = {"run.duration": "30s", "run.replications": 3}


def attainment(delay: str) -> tuple[float, float]:
    scenario = Scenario.from_yaml(SCENARIO, {**SHORT, "batching.max_queue_delay": delay})
    summary = run(scenario).summary
    return summary["slo_attainment"], summary["slo_attainment_ci95"]


@pytest.mark.parametrize("delay, meets", [("0", True), ("1ms", False)])
def test_one_millisecond_of_queue_delay_breaks_the_slo(delay, meets):
    share, half_width = attainment(delay)
    if meets:
        assert share - half_width >= 0.99, (share, half_width)
    else:
        assert share + half_width < 0.99, (share, half_width)
