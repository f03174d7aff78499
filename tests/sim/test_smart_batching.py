"""`adaptive` (Clipper AIMD) and `slo_aware` batching: their rules, then in a run."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.experiments.runner import run
from simulator.sim import simulate
from simulator.sim.batching import BATCHING_POLICIES, INF, Dispatch, Wait

from conftest import make_scenario


def policy(name, **knobs):
    return BATCHING_POLICIES[name](policy=name, **knobs).build()


class TestAdaptive:
    def test_cap_grows_additively_after_full_batches_that_meet_the_objective(self):
        p = policy("adaptive", max_batch_size=6, latency_objective=0.01, additive_increase=2)
        assert p.cap == 1
        p.completed(1.0, 1, 0.005)
        assert p.cap == 3
        p.completed(1.0, 2, 0.005)  # below the cap: says nothing about it
        assert p.cap == 3
        p.completed(1.0, 3, 0.005)
        p.completed(1.0, 5, 0.005)
        assert p.cap == 6  # never above max_batch_size

    def test_cap_is_cut_multiplicatively_after_a_miss(self):
        p = policy("adaptive", max_batch_size=64, latency_objective=0.01, initial_cap=40,
                   multiplicative_decrease=0.25)
        p.completed(1.0, 40, 0.02)
        assert p.cap == 30
        for _ in range(20):
            p.completed(1.0, 1, 0.02)
        assert p.cap == 1

    def test_takes_up_to_the_cap_and_records_it(self):
        p = policy("adaptive", max_batch_size=16, latency_objective=0.01, initial_cap=4,
                   max_queue_delay=0.002)
        assert p.decide(1.0, 10, 0.9, free=1) == Dispatch(4, 4)
        assert p.decide(1.0, 2, 0.9995, free=1) == Wait(pytest.approx(1.0015), 4)
        assert p.decide(1.0015, 2, 0.9995, free=1) == Dispatch(2, 2)
        assert p.decide(1.0, 2, 0.9, free=0) == Wait()
        assert p.cap_history == [4, 4]

    def test_in_a_run_the_cap_settles_where_batches_meet_the_objective(self):
        # 2 ms + 0.5 ms/item: batches of up to 8 take <= 6 ms, 9 or more miss 6 ms
        sc = make_scenario(batching={"policy": "adaptive", "max_batch_size": 32,
                                     "latency_objective": "6ms"},
                           arrival={"process": "poisson", "rate": 1200})
        record = simulate(sc, 0)
        caps = record.batch_cap
        assert caps.size == record.batch_size.size
        assert np.all(record.batch_size <= caps)
        late = caps[caps.size // 2:]
        assert late.max() <= 9 and late.min() >= 7  # AIMD oscillates around 8
        assert np.all(np.diff(caps) <= 1)  # additive steps of 1


class TestSloAware:
    def make(self, objective_s=0.010, max_size=8):
        p = policy("slo_aware", max_batch_size=max_size, latency_objective=objective_s)
        p.bind_service(lambda k: 0.002 + 0.0005 * k)
        return p

    def test_waits_until_the_last_safe_moment_for_the_waiting(self):
        p = self.make()
        # oldest at 0: deadline 10 ms; 2 waiting take 3 ms -> wait until 7 ms
        assert p.decide(0.001, 2, 0.0, free=1) == Wait(pytest.approx(0.007), 3)
        assert p.decide(0.007, 2, 0.0, free=1) == Dispatch(2, 2)

    def test_leaves_behind_a_newcomer_that_would_make_the_oldest_miss(self):
        p = self.make()
        # at 6.8 ms, 3 waiting would end at 6.8 + 3.5 = 10.3 ms > 10 ms; 2 end at 9.8 ms
        assert p.decide(0.0068, 3, 0.0, free=1) == Dispatch(2, 2)

    def test_never_waits_for_a_batch_that_cannot_finish_in_time(self):
        p = self.make()
        assert p.decide(0.009, 3, 0.0, free=1) == Dispatch(3, 3)

    def test_full_batch_at_once_and_no_batch_without_a_server(self):
        p = self.make()
        assert p.decide(0.0, 9, 0.0, free=1) == Dispatch(8, 8)
        assert p.decide(0.0, 9, 0.0, free=0) == Wait()
        assert p.decide(0.0, 0, INF, free=1) == Wait(until_len=1)

    def test_objective_defaults_to_the_slo_and_beats_dynamic_on_it(self):
        common = {"arrival": {"process": "poisson", "rate": 900},
                  "slo": {"latency": "12ms"},
                  "run": {"duration": 10.0, "warmup": 1.0, "replications": 2}}
        aware = make_scenario(batching={"policy": "slo_aware", "max_batch_size": 16},
                              **common)
        assert aware.batching.latency_objective == pytest.approx(0.012)
        slow = make_scenario(batching={"policy": "dynamic", "max_batch_size": 16,
                                       "max_queue_delay": "12ms"}, **common)
        assert (run(aware).summary["slo_attainment"]
                > run(slow).summary["slo_attainment"] + 0.05)
