"""Faults: outages (given, random) with in-flight batches retried or lost; stragglers."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.sim import simulate
from simulator.sim.records import FAILED, IN_FLIGHT

from conftest import assert_check_refuses, make_scenario, scenario_dict
from invariants import assert_conserved

OUTAGE = {"replica": 0, "at": "2s", "duration": "1s"}


def _scenario(faults, **sections):
    base = {"arrival": {"process": "poisson", "rate": 1500},
            "run": {"duration": 5.0, "warmup": 0.5, "replications": 1},
            "replicas": {"count": 2, "router": "least_outstanding"}, "faults": faults}
    base.update(sections)
    return make_scenario(**base)


def _batches_of(record, replica):
    mine = record.batch_replica == replica
    return record.batch_start_s[mine], record.batch_finish_s[mine], record.batch_size[mine]


def _in_service_at(seed: int, at_s: float) -> int:
    """Batches replica 0 has in service at `at_s` without the outage (until then the
    run with the outage is the same run)."""
    start_s, finish_s, _ = _batches_of(simulate(_scenario(None, seed=seed), 0), 0)
    return int(((start_s < at_s) & (finish_s > at_s)).sum())


@pytest.mark.parametrize("in_flight", ["retry", "lost"])
def test_an_outage_stops_the_replica_and_its_batch_is_retried_or_lost(in_flight):
    seed = next(s for s in range(7, 40) if _in_service_at(s, 2.0) > 0)  # a batch to cut
    record = simulate(_scenario({"outages": [OUTAGE], "in_flight": in_flight}, seed=seed), 0)
    assert_conserved(record)
    start_s, finish_s, size = _batches_of(record, 0)
    assert not np.any((start_s >= 2.0) & (start_s < 3.0))  # nothing starts while down
    cut = size == 0
    assert cut.sum() == _in_service_at(seed, 2.0)  # the batches in service are cut
    assert np.allclose(finish_s[cut], 2.0)
    failed = int((record.outcome == FAILED).sum())
    if in_flight == "retry":
        assert failed == 0
    else:
        assert failed > 0 and np.all(np.isnan(record.start_s[record.outcome == FAILED]))
    # the router sends nothing to the down replica
    during = (record.arrival_s >= 2.0) & (record.arrival_s < 3.0)
    assert np.all(record.replica[during] == 1)


def test_requeued_batches_keep_their_timeouts():
    """An outage cuts the batches of several servers at once; each goes back to the head
    of its class lane, and the class timeouts still drop what waited too long."""
    sc = make_scenario(seed=15, arrival={"process": "poisson", "rate": 6000},
                       run={"duration": 0.5, "replications": 1},
                       batching={"policy": "tfserving", "max_batch_size": 4,
                                 "max_queue_delay": 0, "max_enqueued_batches": 1},
                       service={"base": "2ms", "distribution": "exponential"},
                       servers={"count": 3},
                       queue={"capacity": 5, "timeout": "20ms", "discipline": "priority"},
                       replicas={"count": 2, "router": "round_robin"},
                       classes=[{"name": "gold", "share": 0.3, "priority": 1},
                                {"name": "bronze", "share": 0.7}],
                       faults={"mtbf": "250ms", "mttr": "25ms", "in_flight": "retry",
                               "stragglers": {"fraction": 0.05, "slowdown": 3}})
    record = simulate(sc, 0)
    assert_conserved(record)


def test_random_outages_keep_the_books_balanced_in_a_closed_loop():
    sc = _scenario({"mtbf": "300ms", "mttr": "50ms", "in_flight": "lost"},
                   arrival={"process": "closed", "users": 20, "think_time": "5ms"})
    record = simulate(sc, 0)
    assert_conserved(record)
    assert (record.outcome == FAILED).sum() > 0
    assert (record.outcome == IN_FLIGHT).sum() <= 20


def test_stragglers_slow_down_the_given_fraction_of_batches():
    sc = make_scenario(faults={"stragglers": {"fraction": 0.1, "slowdown": 4}},
                       run={"duration": 20.0, "warmup": 0.5, "replications": 1})
    record = simulate(sc, 0)
    took_s = record.batch_finish_s - record.batch_start_s
    expected_s = 0.002 + 0.0005 * record.batch_size  # deterministic service
    ratio = took_s / expected_s
    done = ~np.isnan(ratio)
    slow = np.isclose(ratio[done], 4.0)
    assert np.all(slow | np.isclose(ratio[done], 1.0))
    n = done.sum()
    assert abs(slow.mean() - 0.1) < 4 * np.sqrt(0.1 * 0.9 / n)


@pytest.mark.parametrize("patch, fragment", [
    ({"faults": {"mtbf": "10s"}}, "faults.mttr: give both mtbf and mttr"),
    ({"faults": {"outages": [{"replica": 3, "at": "1s", "duration": "1s"}]}},
     "faults.outages.0.replica: there are only 1 replicas"),
    ({"faults": {"stragglers": {"fraction": 0.1, "slowdown": 0.5}}},
     "faults.stragglers.slowdown"),
])
def test_bad_faults_exit_2(write_yaml, patch, fragment):
    assert_check_refuses(write_yaml(scenario_dict(**patch)), fragment)


def test_torchserve_loses_its_collecting_worker_to_an_outage():
    """A worker collecting a batch when its replica goes down collects nothing more (it
    was dispatched with no free server before)."""
    sc = make_scenario(seed=1718, run={"duration": 1.0, "replications": 1},
                       arrival={"process": "poisson", "rate": 3000},
                       batching={"policy": "torchserve", "max_batch_size": 12,
                                 "max_queue_delay": "5ms"},
                       service={"base": "2ms", "per_item": "0.25ms",
                                "distribution": "exponential"},
                       servers={"count": 3}, faults={"mtbf": "50ms", "mttr": "20ms"})
    assert_conserved(simulate(sc, 0))
