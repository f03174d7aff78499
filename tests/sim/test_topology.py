"""Replicas, routers and request classes: invariants, exactness and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.experiments.runner import run
from simulator.sim import simulate
from simulator.sim.records import FAILED, REJECTED, TIMED_OUT

from conftest import assert_check_refuses, make_scenario, scenario_dict
from invariants import assert_conserved

ROUTERS = ["round_robin", "random", "least_outstanding", "join_shortest_queue",
           "power_of_two"]


def _fleet(**sections):
    base = {"arrival": {"process": "poisson", "rate": 1500},
            "run": {"duration": 4.0, "warmup": 0.5, "replications": 2}}
    base.update(sections)
    return make_scenario(**base)


@pytest.mark.parametrize("router", ROUTERS)
def test_every_router_conserves_requests_and_keeps_batches_in_their_replica(router):
    record = simulate(_fleet(replicas={"count": 3, "router": router}), 0)
    assert_conserved(record)
    assert not (record.outcome == FAILED).any()  # no faults: nothing fails
    started = record.batch >= 0
    assert np.array_equal(record.batch_replica[record.batch[started]], record.replica[started])
    assert np.all(record.replica[record.arrival_s <= record.end_s] >= 0)
    servers_per_replica = record.servers // 3
    assert np.array_equal(record.batch_server // servers_per_replica, record.batch_replica)


def test_no_replica_batches_a_request_before_it_arrives():
    sc = make_scenario(seed=0, arrival={"process": "poisson", "rate": 1200},
                       run={"duration": 2.0, "replications": 1}, queue={"capacity": 5},
                       batching={"policy": "dynamic", "max_batch_size": 3,
                                 "max_queue_delay": "0.5ms"},
                       service={"base": "1ms", "distribution": "deterministic"},
                       replicas={"count": 2, "router": "round_robin"})
    record = simulate(sc, 0)
    started = record.batch >= 0
    early = record.start_s[started] < record.arrival_s[started]
    assert not early.any(), f"{early.sum()} requests in batches that started before them"


def test_round_robin_deals_arrivals_in_turn():
    record = simulate(_fleet(replicas={"count": 3, "router": "round_robin"}), 0)
    routed = record.replica[record.replica >= 0]
    assert np.array_equal(routed, np.arange(routed.size) % 3)


def test_one_replica_fleet_reproduces_the_plain_engine_exactly():
    plain = make_scenario(servers={"count": 2})
    fleet = make_scenario(servers={"count": 2}, replicas={"count": 1})
    a, b = simulate(plain, 1), simulate(fleet, 1)
    for name in ("batch", "outcome", "batch_start_s", "batch_finish_s", "batch_size",
                 "batch_server"):
        assert np.array_equal(getattr(a, name), getattr(b, name), equal_nan=True), name


def test_results_do_not_depend_on_worker_count():
    sc = _fleet(replicas={"count": 2, "router": "power_of_two"},
                classes=[{"name": "a", "share": 0.5, "priority": 1},
                         {"name": "b", "share": 0.5}], queue={"discipline": "priority"})
    one, two = run(sc, workers=1), run(sc, workers=2)
    assert one.summary["per_class"] == two.summary["per_class"]
    assert one.summary["per_replica"] == two.summary["per_replica"]


def test_a_slower_replica_is_busier_under_random_routing():
    sc = _fleet(replicas={"count": 2, "router": "random", "service_time_factor": [1, 2]},
                batching={"policy": "none"},
                service={"base": "0.5ms", "distribution": "exponential"})
    util = [r["utilization"] for r in run(sc).summary["per_replica"]]
    assert util[1] == pytest.approx(2 * util[0], rel=0.1)
    assert sc.capacity_rps == pytest.approx(2000 + 1000)


def test_class_shares_and_per_class_slo():
    sc = _fleet(classes=[{"name": "fast", "share": 0.25, "slo": "1ms"},
                         {"name": "slow", "share": 0.75, "slo": "1s"}],
                arrival={"process": "poisson", "rate": 600})
    per_class = run(sc).summary["per_class"]
    total = sum(c["arrivals"] for c in per_class.values())
    assert per_class["fast"]["arrivals"] / total == pytest.approx(0.25, abs=0.02)
    assert per_class["slow"]["slo_attainment"] > 0.99  # only those in flight at the end miss
    assert per_class["fast"]["slo_attainment"] < 0.5  # 1 ms is below the 2 ms base service


def test_priority_serves_the_high_class_first_and_edf_by_deadline():
    classes = [{"name": "hi", "share": 0.5, "priority": 1, "slo": "5ms"},
               {"name": "lo", "share": 0.5, "slo": "100ms"}]
    loaded = {"arrival": {"process": "poisson", "rate": 900},
              "batching": {"policy": "dynamic", "max_batch_size": 4, "max_queue_delay": "1ms"}}
    for discipline in ("priority", "edf"):
        per_class = run(_fleet(classes=classes, queue={"discipline": discipline},
                               **loaded)).summary["per_class"]
        assert per_class["hi"]["wait"]["mean"] < 0.5 * per_class["lo"]["wait"]["mean"]


def test_queue_policy_timeout_reject_and_delay_and_max_queue_size():
    heavy = {"arrival": {"process": "poisson", "rate": 900},
             "batching": {"policy": "dynamic", "max_batch_size": 4, "max_queue_delay": "1ms"}}
    reject = _fleet(classes=[{"name": "a", "share": 1.0, "queue_policy": {
        "timeout": "5ms", "action": "reject"}}], **heavy)
    record = simulate(reject, 0)
    assert_conserved(record)
    waited = record.start_s - record.arrival_s
    assert np.nanmax(waited) <= 0.005 + 1e-9
    assert (record.outcome == TIMED_OUT).sum() > 0
    delay = _fleet(classes=[{"name": "a", "share": 1.0, "queue_policy": {
        "timeout": "5ms", "action": "delay"}}], **heavy)
    record = simulate(delay, 0)
    assert_conserved(record)
    assert (record.outcome == TIMED_OUT).sum() == 0
    assert np.nanmax(record.start_s - record.arrival_s) > 0.005
    capped = _fleet(classes=[{"name": "a", "share": 1.0, "queue_policy": {
        "max_queue_size": 5}}], **heavy)
    record = simulate(capped, 0)
    assert_conserved(record)
    assert (record.outcome == REJECTED).sum() > 0


@pytest.mark.parametrize("patch, fragment", [
    ({"replicas": {"count": 2, "service_time_factor": [1]}},
     "replicas.service_time_factor: needs one entry per replica"),
    ({"replicas": {"count": 2, "router": "fastest"}}, "replicas.router"),
    ({"classes": [{"name": "a", "share": 0.5}]}, "classes: shares must sum to 1"),
    ({"queue": {"discipline": "priority"}}, "queue.discipline: priority needs classes"),
    ({"classes": [{"name": "a", "share": 1.0, "queue_policy": {"action": "drop"}}]},
     "classes.0.queue_policy.action"),
    ({"queue": {"discipline": "edf"}, "classes": [{"name": "a", "share": 1.0}]},
     "classes.0.slo: edf needs a deadline"),
    ({"batching": {"policy": "slo_aware", "max_batch_size": 4}},
     "batching.latency_objective: slo_aware needs a latency objective"),
    ({"batching": {"policy": "adaptive", "max_batch_size": 4}}, "batching.latency_objective"),
])
def test_bad_topology_exits_2_with_one_line(write_yaml, patch, fragment):
    assert_check_refuses(write_yaml(scenario_dict(**patch)), fragment)
