"""Autoscaling: the controller's rule, its bounds, the books and the cost."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.experiments.runner import run
from simulator.model.autoscaling import AutoscalingSection, decide
from simulator.sim import simulate

from conftest import assert_check_refuses, make_scenario, scenario_dict
from invariants import assert_conserved

RULE = AutoscalingSection(min_replicas=1, max_replicas=4, scale_up_at=6, scale_down_at=1)


def test_rule_adds_above_retires_below_within_bounds():
    assert decide(7.0, 2, 0, RULE) == 1
    assert decide(7.0, 3, 1, RULE) == 0  # max counts the replicas being provisioned
    assert decide(0.5, 2, 0, RULE) == -1
    assert decide(0.5, 1, 0, RULE) == 0  # never below min_replicas
    assert decide(0.5, 2, 1, RULE) == 0  # not while one is coming
    assert decide(3.0, 2, 0, RULE) == 0


def _scaled(rate_rps: float, duration_s: float = 30.0, **scaling):
    config = {"min_replicas": 1, "max_replicas": 5, "scale_up_at": 6, "scale_down_at": 1,
              "interval": "0.5s", "provisioning_delay": "2s", **scaling}
    return make_scenario(arrival={"process": "poisson", "rate": rate_rps},
                         run={"duration": duration_s, "warmup": 2.0, "replications": 1},
                         batching={"policy": "dynamic", "max_batch_size": 8,
                                   "max_queue_delay": "2ms"},
                         servers={"count": 1, "cost_per_hour": 3.0},
                         replicas={"count": 1, "router": "least_outstanding"},
                         autoscaling=config)


def test_grows_under_load_within_bounds():
    record = simulate(_scaled(2500.0), 0)  # one replica serves at most 1333 req/s
    sc = record.scaling
    assert sc["active"].max() >= 2 and sc["active"].max() <= 5
    assert np.all(sc["active"] >= 1) and np.all(sc["paid"] >= sc["active"])
    assert np.all(np.diff(sc["t_s"]) >= 0)
    # a replica asked for at t serves only from t + provisioning_delay
    first_up_s = sc["t_s"][np.argmax(sc["active"] >= 2)]
    first_ask_s = sc["t_s"][np.argmax(sc["paid"] >= 2)]
    assert first_up_s == pytest.approx(first_ask_s + 2.0)
    assert np.nanmin(record.batch_start_s[record.batch_replica == 1]) >= first_up_s


def test_growing_under_load_keeps_the_books():
    assert_conserved(simulate(_scaled(2500.0), 0))


def test_light_load_stays_at_the_minimum_and_cost_is_replica_hours_times_price():
    summary = run(_scaled(200.0, duration_s=10.0)).summary
    scaling = summary["autoscaling"]
    assert scaling["mean_replicas_paid"] == 1.0 and scaling["max_replicas_active"] == 1
    assert scaling["replica_hours"] == pytest.approx(8.0 / 3600)
    assert scaling["cost"] == pytest.approx(scaling["replica_hours"] * 3.0)


@pytest.mark.parametrize("patch, fragment", [
    ({"autoscaling": {"max_replicas": 3, "scale_up_at": 5}}, "autoscaling: needs replicas:"),
    ({"replicas": {"count": 5}, "autoscaling": {"max_replicas": 3, "scale_up_at": 5}},
     "replicas.count: must be between"),
    ({"replicas": {"count": 1}, "autoscaling": {"max_replicas": 3, "scale_up_at": 5,
                                                "scale_down_at": 6}},
     "autoscaling.scale_down_at: must be below scale_up_at"),
])
def test_bad_autoscaling_exits_2(write_yaml, patch, fragment):
    assert_check_refuses(write_yaml(scenario_dict(**patch)), fragment)
