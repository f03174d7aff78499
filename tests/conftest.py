"""Shared test helpers: a small valid scenario to start from."""

from __future__ import annotations

import copy

import pytest

from simulator.model.scenario import Scenario

BASE = {
    "name": "t",
    "seed": 7,
    "run": {"duration": 20.0, "warmup": 2.0, "replications": 2},
    "arrival": {"process": "poisson", "rate": 200},
    "batching": {"policy": "dynamic", "max_batch_size": 8, "max_queue_delay": "2ms"},
    "service": {"base": "2ms", "per_item": "0.5ms", "distribution": "deterministic"},
}


def make_scenario(**sections) -> Scenario:
    """BASE with whole sections replaced (`arrival={...}`) and validated."""
    data = copy.deepcopy(BASE)
    data.update(sections)
    return Scenario.model_validate(data)


def assert_check_refuses(path, fragment: str) -> None:
    """`batchsim check PATH` exits 2 with one stderr line containing `fragment`."""
    from click.testing import CliRunner

    from simulator.cli import cli

    result = CliRunner().invoke(cli, ["check", str(path)], catch_exceptions=False)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], lines


def scenario_dict(**sections) -> dict:
    data = copy.deepcopy(BASE)
    data.update(sections)
    return data


@pytest.fixture
def write_yaml(tmp_path):
    """Write a dict (or raw text) as a scenario file and return its path."""
    import yaml

    def write(content, name="scenario.yaml"):
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif isinstance(content, str):
            path.write_text(content)
        else:
            path.write_text(yaml.safe_dump(content, sort_keys=False))
        return path

    return write
