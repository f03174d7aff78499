"""Same scenario and seed, same statistics: whatever the number of workers."""

import json

from simulator.experiments.runner import run

from conftest import make_scenario


def stats(result):
    return json.loads(result.to_json())


def test_same_seed_same_summary_and_other_seed_differs():
    scenario = make_scenario(run={"duration": 5, "warmup": 0.5, "replications": 3})
    a, b = stats(run(scenario)), stats(run(scenario))
    assert a == b
    assert stats(run(scenario, seed=99))["latency"] != a["latency"]


def test_workers_do_not_change_results():
    scenario = make_scenario(run={"duration": 5, "warmup": 0.5, "replications": 3},
                             service={"base": "2ms", "per_item": "0.5ms",
                                      "distribution": "gamma", "cv": 0.5})
    assert stats(run(scenario, workers=1)) == stats(run(scenario, workers=2))


def test_replication_k_is_the_same_in_a_longer_run():
    scenario = make_scenario(run={"duration": 5, "warmup": 0.5, "replications": 2})
    two = stats(run(scenario))["per_replication"]
    four = stats(run(scenario, replications=4))["per_replication"]
    assert four[:2] == two
