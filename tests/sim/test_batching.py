"""Batching policies as pure decision logic, without SimPy."""

import pytest

from simulator import Scenario, ScenarioError
from simulator.model.config import Registry
from simulator.sim.batching import BATCHING_POLICIES, INF, Dispatch, Wait, batching_policy

from conftest import scenario_dict


def policy(name, **knobs):
    return BATCHING_POLICIES[name](policy=name, **knobs).build()


def test_registry_refuses_duplicate_names():
    registry = Registry("thing")
    registry.register("a", int)
    with pytest.raises(ValueError, match="duplicate thing name 'a'"):
        registry.register("a", float)
    with pytest.raises(ValueError, match="duplicate batching policy name 'dynamic'"):
        batching_policy("dynamic")(type("X", (), {"Config": type("C", (), {})}))


def test_none_takes_one_when_a_server_is_free():
    p = policy("none")
    assert p.decide(0.0, 5, 0.0, free=1) == Dispatch(1, 1)
    assert p.decide(0.0, 5, 0.0, free=0) == Wait()
    assert p.decide(0.0, 0, INF, free=1) == Wait(until_len=1)


class TestDynamic:
    def test_full_batch_goes_at_once(self):
        p = policy("dynamic", max_batch_size=4, max_queue_delay=0.01)
        assert p.decide(1.0, 9, 0.999, free=1) == Dispatch(4, 4)

    def test_partial_batch_waits_for_the_oldest_deadline_or_a_full_batch(self):
        p = policy("dynamic", max_batch_size=4, max_queue_delay=0.01)
        assert p.decide(1.0, 2, 0.995, free=1) == Wait(until_s=pytest.approx(1.005), until_len=4)
        assert p.decide(1.005, 2, 0.995, free=1) == Dispatch(2, 2)

    def test_delay_zero_is_bulk_service(self):
        p = policy("dynamic", max_batch_size=8, max_queue_delay=0)
        assert p.decide(3.0, 3, 2.0, free=1) == Dispatch(3, 3)

    def test_no_free_server_means_no_batch(self):
        p = policy("dynamic", max_batch_size=4, max_queue_delay=0)
        assert p.decide(3.0, 30, 0.0, free=0) == Wait()

    def test_preferred_sizes(self):
        p = policy("dynamic", max_batch_size=16, max_queue_delay=1.0, preferred_batch_sizes=[4, 8])
        assert p.decide(0.0, 3, 0.0, free=1) == Wait(until_s=1.0, until_len=4)
        assert p.decide(0.0, 7, 0.0, free=1) == Dispatch(4, 4)
        assert p.decide(0.0, 12, 0.0, free=1) == Dispatch(8, 8)
        assert p.decide(0.0, 20, 0.0, free=1) == Dispatch(16, 16)

    def test_preferred_sizes_must_fit(self):
        with pytest.raises(ScenarioError, match="batching.preferred_batch_sizes: 8 is not"):
            Scenario.from_dict(scenario_dict(batching={
                "policy": "dynamic", "max_batch_size": 4, "preferred_batch_sizes": [8]}))


class TestTFServing:
    def test_full_batches_close_and_queue(self):
        p = policy("tfserving", max_batch_size=2, max_queue_delay=0.01)
        for t in (0.0, 0.001, 0.002):
            assert p.admit(t)
        # batch [0, 1] closed, [2] open; no thread free -> nothing
        assert p.decide(0.003, 3, 0.0, free=0) == Wait()
        assert p.decide(0.003, 3, 0.0, free=1) == Dispatch(2, 2)
        # the open batch goes only once its first request waited the delay
        assert p.decide(0.003, 1, 0.002, free=1) == Wait(until_s=pytest.approx(0.012), until_len=2)
        assert p.decide(0.012, 1, 0.002, free=1) == Dispatch(1, 1)

    def test_max_enqueued_batches_rejects(self):
        p = policy("tfserving", max_batch_size=1, max_enqueued_batches=2)
        assert p.admit(0.0) and p.admit(0.0)
        assert not p.admit(0.0)

    def test_padding_to_allowed_sizes(self):
        p = policy("tfserving", max_batch_size=8, max_queue_delay=0, allowed_batch_sizes=[2, 4, 8])
        for t in (0.0, 0.0, 0.0):
            p.admit(t)
        assert p.decide(0.0, 3, 0.0, free=1) == Dispatch(3, 4)

    @pytest.mark.parametrize("sizes", [[4, 2, 8], [2, 4], [0, 8], []])
    def test_allowed_sizes_validated(self, sizes):
        with pytest.raises(ScenarioError, match="batching.allowed_batch_sizes: "):
            Scenario.from_dict(scenario_dict(batching={
                "policy": "tfserving", "max_batch_size": 8, "allowed_batch_sizes": sizes}))

    def test_drops_shrink_the_oldest_batches(self):
        p = policy("tfserving", max_batch_size=2, max_queue_delay=0.0)
        for t in (0.0, 0.0, 0.0):
            p.admit(t)
        p.dropped(2)  # the whole closed batch timed out
        assert p.decide(1.0, 1, 0.0, free=1) == Dispatch(1, 1)


class TestTorchServe:
    def test_delay_counts_from_when_the_worker_took_the_first_request(self):
        p = policy("torchserve", max_batch_size=4, max_queue_delay=0.01)
        # oldest request arrived long ago; Triton would send it now, TorchServe collects
        assert p.decide(5.0, 2, 1.0, free=1) == Wait(until_s=pytest.approx(5.01), until_len=4)
        assert p.decide(5.004, 3, 1.0, free=0) == Wait(until_s=pytest.approx(5.01), until_len=4)
        assert p.decide(5.01, 3, 1.0, free=0) == Dispatch(3, 3)

    def test_leaves_at_once_when_full(self):
        p = policy("torchserve", max_batch_size=4, max_queue_delay=1.0)
        assert p.decide(0.0, 1, 0.0, free=1) == Wait(until_s=1.0, until_len=4)
        assert p.decide(0.2, 4, 0.0, free=1) == Dispatch(4, 4)

    def test_idle_worker_waits_for_a_request(self):
        p = policy("torchserve", max_batch_size=4, max_queue_delay=1.0)
        assert p.decide(0.0, 0, INF, free=1) == Wait(until_len=1)


class TestWindow:
    def test_batches_close_on_time_even_without_a_free_server(self):
        p = policy("window", max_batch_size=10, max_queue_delay=0.01)
        p.admit(0.0)
        p.admit(0.005)
        p.admit(0.010)  # arrives exactly at the close: starts the next batch
        assert p.decide(0.5, 3, 0.0, free=1) == Dispatch(2, 2)
        assert p.decide(0.5, 1, 0.010, free=1) == Dispatch(1, 1)

    def test_closes_on_size(self):
        p = policy("window", max_batch_size=2, max_queue_delay=1.0)
        p.admit(0.0)
        assert p.decide(0.0, 1, 0.0, free=1) == Wait(until_s=1.0, until_len=2)
        p.admit(0.1)
        assert p.decide(0.1, 2, 0.0, free=1) == Dispatch(2, 2)


@pytest.mark.parametrize("delay_s, rate", [(0.0, 1500.0), (0.001, 1500.0), (0.002, 4000.0)])
def test_window_capacity_follows_its_batches_not_the_maximum(delay_s, rate):
    """`window` closes batches on time even when the server is the bottleneck, so its
    capacity is about (1 + rate x delay) / S(1 + rate x delay), not max / S(max).
    Found by the Little's-law property test: window 3 / delay 0 at 1500 req/s on a
    1 ms server was called half loaded while it was 1.5x overloaded."""
    from simulator.experiments.runner import run

    scenario = Scenario.model_validate({
        "name": "w", "seed": 5, "run": {"duration": 20, "warmup": 2, "replications": 3},
        "arrival": {"process": "poisson", "rate": rate},
        "batching": {"policy": "window", "max_batch_size": 3, "max_queue_delay": delay_s},
        "service": {"base": 0.001, "distribution": "deterministic"}})
    expected = min(3.0, 1 + rate * delay_s) / 0.001
    assert scenario.capacity_rps == pytest.approx(expected)
    if scenario.offered_load > 1:  # overloaded: the throughput is the capacity
        measured = run(scenario).summary
        assert measured["saturated"]
        assert measured["throughput"] == pytest.approx(scenario.capacity_rps, rel=0.03)
        assert any("unstable" in w for w in scenario.warnings())
