"""The topology features together: every combination keeps the books and repeats itself."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.sim import simulate

from conftest import make_scenario
from invariants import assert_conserved

CLASSES = [{"name": "gold", "share": 0.3, "priority": 2, "slo": "20ms",
            "queue_policy": {"timeout": "30ms", "action": "delay"}},
           {"name": "bronze", "share": 0.7, "slo": "200ms",
            "queue_policy": {"timeout": "80ms", "action": "reject", "max_queue_size": 50}}]
FAULTS = {"mtbf": "400ms", "mttr": "60ms", "in_flight": "retry",
          "stragglers": {"fraction": 0.05, "slowdown": 3}}
ADAPTIVE = {"policy": "adaptive", "max_batch_size": 16, "latency_objective": "7ms"}
SLO_AWARE = {"policy": "slo_aware", "max_batch_size": 16, "latency_objective": "15ms"}

COMBOS = {
    "replicas+classes+faults+adaptive": dict(
        replicas={"count": 3, "router": "power_of_two"}, classes=CLASSES,
        queue={"discipline": "priority"}, faults=FAULTS, batching=ADAPTIVE),
    "stages+classes+faults(lost)": dict(
        stages=[{"name": "a", "batching": {"policy": "none"}, "servers": {"count": 2},
                 "service": {"base": "0.6ms", "distribution": "exponential"}},
                {"name": "b"}],
        classes=CLASSES, queue={"discipline": "edf"},
        faults={**FAULTS, "in_flight": "lost"}),
    "ensemble+faults+slo_aware": dict(
        ensemble={"branches": 3, "join": "first_k", "k": 2}, faults=FAULTS,
        batching=SLO_AWARE),
    "closed+replicas+classes+faults(lost)": dict(
        arrival={"process": "closed", "users": 24, "think_time": {
            "mean": "10ms", "distribution": "exponential"}},
        replicas={"count": 2, "router": "join_shortest_queue",
                  "service_time_factor": [1, 1.3]},
        classes=CLASSES, faults={**FAULTS, "in_flight": "lost"}),
    "closed+ensemble+faults(lost)+classes": dict(
        arrival={"process": "closed", "users": 16, "think_time": "4ms"},
        ensemble={"branches": 3, "join": "first_k", "k": 2}, classes=CLASSES,
        faults={**FAULTS, "in_flight": "lost"}),
    "closed+stages+faults(lost)": dict(
        arrival={"process": "closed", "users": 16, "think_time": "4ms"},
        stages=[{"name": "a", "batching": {"policy": "none"}}, {"name": "b"}],
        faults={**FAULTS, "in_flight": "lost"}),
    # refused by the two engines before the one core
    "replicas+calibrated server+faults": dict(
        replicas={"count": 2, "router": "least_outstanding"}, faults=FAULTS,
        servers={"count": 2, "wakeup": "200us",
                 "idle_penalty": {"max": "300us", "time_constant": "5ms"},
                 "stalls": {"every": "200ms", "duration": "2ms"}}),
    "classes+tfserving+faults": dict(
        classes=CLASSES, queue={"discipline": "priority"}, faults=FAULTS,
        batching={"policy": "tfserving", "max_batch_size": 8, "max_queue_delay": "2ms",
                  "max_enqueued_batches": 4}),
    "classes+window+faults(lost)": dict(
        classes=CLASSES, faults={**FAULTS, "in_flight": "lost"},
        batching={"policy": "window", "max_batch_size": 8, "max_queue_delay": "2ms"}),
    "ensemble behind replicas": dict(
        ensemble={"branches": 2}, replicas={"count": 2, "router": "join_shortest_queue"}),
    "stages of replicated pools and an ensemble stage": dict(
        stages=[{"name": "a", "batching": {"policy": "none"},
                 "replicas": {"count": 3, "router": "random"},
                 "service": {"base": "1ms", "distribution": "exponential"}},
                {"name": "b", "ensemble": {"branches": 3, "join": "first_k", "k": 2}}]),
    "classes+network": dict(
        classes=CLASSES, network={"delay": "1ms", "failure_probability": 0.05,
                                  "timeout": "50ms", "max_retries": 2}),
    "stages+ensemble+overhead": dict(
        stages=[{"name": "a", "batching": {"policy": "none"}}, {"name": "b"}],
        ensemble={"branches": 2},
        service={"base": "1ms", "per_item": "0.2ms", "overhead": {"before": "200us",
                                                                  "after": "100us"}}),
    "closed+network+classes+replicas": dict(
        arrival={"process": "closed", "users": 20, "think_time": "5ms"},
        replicas={"count": 2}, classes=CLASSES,
        network={"delay": {"mean": "1ms", "distribution": "exponential"},
                 "failure_probability": 0.1, "timeout": "40ms", "max_retries": 2}),
    "autoscaling+service_time_factor": dict(
        replicas={"count": 1, "router": "least_outstanding",
                  "service_time_factor": [1, 1.5, 2]},
        autoscaling={"max_replicas": 3, "scale_up_at": 4, "scale_down_at": 1,
                     "interval": "200ms"}),
}


@pytest.mark.parametrize("name", COMBOS)
def test_combination_keeps_the_books_and_is_reproducible(name):
    sections = {"arrival": {"process": "poisson", "rate": 1400},
                "run": {"duration": 3.0, "warmup": 0.5, "replications": 1}, **COMBOS[name]}
    sc = make_scenario(**sections)
    record = simulate(sc, 0)
    assert_conserved(record)
    assert record.counts()["completed"] > 0
    if record.sent_s is not None and sc.is_closed_loop:  # every user waits for one answer
        assert (record.client_outcome == 0).sum() <= sc.arrival.users
    again = simulate(sc, 0)
    assert np.array_equal(record.outcome, again.outcome)
    assert np.array_equal(record.batch_start_s, again.batch_start_s)
