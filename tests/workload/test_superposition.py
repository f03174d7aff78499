"""`arrival.process: superposition`: merged streams, and class k = stream k."""

import numpy as np
import pytest

from simulator.experiments.runner import run
from simulator.model.errors import ScenarioError
from simulator.model.scenario import Scenario
from simulator.sim import simulate
from simulator.sim.rng import stream

from conftest import scenario_dict


def mixed(streams, **sections):
    data = scenario_dict(run={"duration": 1.0, "replications": 1},
                         arrival={"process": "superposition", "streams": streams},
                         batching={"policy": "dynamic", "max_batch_size": 4,
                                   "max_queue_delay": 0},
                         service={"base": "1ms", "distribution": "deterministic"})
    return Scenario.model_validate({**data, **sections})


def test_streams_merge_and_each_class_is_its_stream():
    scenario = mixed([{"process": "constant", "rate": 10}, {"process": "constant", "rate": 30}],
                     classes=[{"name": "a"}, {"name": "b"}])
    record = simulate(scenario, 0)
    arrivals, klass = record.arrival_s, record.request_class
    assert np.all(np.diff(arrivals) >= 0)
    np.testing.assert_allclose(arrivals[klass == 0], np.arange(1, 10) / 10)
    np.testing.assert_allclose(arrivals[klass == 1], np.arange(1, 30) / 30)
    assert scenario.arrival.mean_rate_rps == 40


def test_one_stream_never_moves_another():
    first = {"process": "poisson", "rate": 300}
    a = mixed([first, {"process": "poisson", "rate": 100}])
    b = mixed([first, {"process": "gamma", "rate": 700, "cv": 3}])
    times_a, labels_a = a.arrival.times_and_streams(stream(1, 0, "arrivals"), 5.0)
    times_b, labels_b = b.arrival.times_and_streams(stream(1, 0, "arrivals"), 5.0)
    np.testing.assert_array_equal(times_a[labels_a == 0], times_b[labels_b == 0])
    assert (labels_b == 1).sum() > 5 * (labels_a == 1).sum()


def test_two_poisson_streams_make_an_mm1_queue():
    # Poisson(300) + Poisson(500) is Poisson(800): M/M/1 at rho 0.8, mean sojourn 5 ms
    data = scenario_dict(seed=5, run={"duration": 60.0, "warmup": 5.0, "replications": 6},
                         arrival={"process": "superposition",
                                  "streams": [{"process": "poisson", "rate": 300},
                                              {"process": "poisson", "rate": 500}]},
                         batching={"policy": "none"},
                         service={"base": "1ms", "distribution": "exponential"})
    summary = run(Scenario.model_validate(data), workers=1).summary
    mean, half_width = summary["latency"]["mean"], summary["latency_ci95"]["mean"]
    assert abs(mean - 0.005) <= 1.5 * half_width + 1e-4, (mean, half_width)


@pytest.mark.parametrize("sections, key", [
    ({"classes": [{"name": "a", "share": 0.5}, {"name": "b", "share": 0.5}]}, "classes"),
    ({"classes": [{"name": "a"}]}, "classes"),
    ({"run": {"requests": 100}}, "run.requests"),
])
def test_bad_combinations_are_refused(sections, key):
    with pytest.raises(ScenarioError, match=key):
        Scenario.from_dict({**scenario_dict(arrival={"process": "superposition", "streams": [
            {"process": "poisson", "rate": 10}, {"process": "poisson", "rate": 20}]}),
            **sections}, source="s.yaml")


def test_a_closed_loop_is_not_a_stream():
    with pytest.raises(ScenarioError, match="arrival.streams.1"):
        Scenario.from_dict(scenario_dict(arrival={"process": "superposition", "streams": [
            {"process": "poisson", "rate": 10}, {"process": "closed", "users": 3}]}),
            source="s.yaml")


def test_classes_without_superposition_still_need_shares():
    with pytest.raises(ScenarioError, match=r"classes.1.share"):
        Scenario.from_dict(scenario_dict(classes=[{"name": "a", "share": 1.0},
                                                  {"name": "b"}]), source="s.yaml")


@pytest.mark.parametrize("stream, key", [
    ({"process": "poison", "rate": 3}, "arrival.streams.1.process: unknown process; did you "
                                       "mean 'poisson'"),
    ({"process": "poisson", "rat": 3}, "arrival.streams.1.rat: unknown key; did you mean "
                                       "'rate'"),
    ({"process": "trace", "path": "nope.csv"}, "arrival.streams.1.path: trace file"),
    ({"process": "trace", "path": "one.csv"}, "arrival.streams.1.path: trace needs at least "
                                              "two distinct timestamps"),
])
def test_errors_inside_a_stream_name_the_stream(tmp_path, stream, key):
    (tmp_path / "one.csv").write_text("t\n1\n1\n")
    data = scenario_dict(arrival={"process": "superposition",
                                  "streams": [{"process": "poisson", "rate": 5}, stream]})
    with pytest.raises(ScenarioError) as caught:
        Scenario.from_dict(data, source="s.yaml", base_dir=tmp_path)
    assert key in str(caught.value), str(caught.value)


def test_a_typo_inside_a_list_of_classes_gets_a_suggestion():
    data = scenario_dict(classes=[{"name": "a", "share": 1.0,
                                   "queue_policy": {"timout": "1ms"}}])
    with pytest.raises(ScenarioError, match=r"classes.0.queue_policy.timout: unknown key; "
                                            r"did you mean 'timeout'"):
        Scenario.from_dict(data, source="s.yaml")
