"""The combination rules: the README table is the rules table, and nothing is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator import Scenario
from simulator.model.combinations import REFUSED, SECTIONS, composition_table
from simulator.model.errors import ScenarioError

from conftest import make_scenario, scenario_dict

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_table_is_written_from_the_rules():
    assert composition_table() in README.read_text()


def test_every_section_combines_with_every_other():
    assert REFUSED == {}
    assert " no " not in composition_table() and len(SECTIONS) >= 10


def test_everything_at_once_validates_and_runs():
    from simulator.sim import simulate

    scenario = make_scenario(
        run={"duration": 1.0, "replications": 1},
        arrival={"process": "closed", "users": 8, "think_time": "2ms"},
        batching={"policy": "tfserving", "max_batch_size": 4, "max_queue_delay": "1ms"},
        replicas={"count": 2, "router": "least_outstanding"},
        classes=[{"name": "a", "share": 0.5, "priority": 1}, {"name": "b", "share": 0.5}],
        queue={"discipline": "priority", "timeout": "50ms"},
        stages=[{"name": "pre", "batching": {"policy": "none"}}, {"name": "model"}],
        ensemble={"branches": 2, "join": "first_k", "k": 1},
        faults={"mtbf": "200ms", "mttr": "20ms"},
        autoscaling={"max_replicas": 3, "scale_up_at": 4, "interval": "100ms"},
        network={"delay": "1ms", "failure_probability": 0.05, "timeout": "40ms"},
        servers={"wakeup": "100us", "idle_penalty": {"max": "200us", "time_constant": "2ms"},
                 "stalls": {"every": "100ms", "duration": "1ms"}})
    record = simulate(scenario, 0)
    assert record.counts()["completed"] > 0


def test_run_rules_still_hold():
    with pytest.raises(ScenarioError, match="run.requests"):
        Scenario.from_dict(scenario_dict(run={"requests": 100},
                                         arrival={"process": "closed", "users": 2}))
