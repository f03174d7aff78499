"""`batchsim profile` on the shipped numpy MLP, and its output as a service table."""

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from simulator.cli import cli
from simulator.model.scenario import Scenario
from simulator.realserver.profiling import linear_fit

from conftest import scenario_dict

ROOT = Path(__file__).resolve().parents[2]
MLP = ROOT / "scenarios/models/mlp.py"


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_profile_the_example_model_and_include_it(tmp_path):
    out = tmp_path / "profile.yaml"
    result = invoke("profile", f"{MLP}:forward", "--input-factory", f"{MLP}:make_batch",
                    "--batch-sizes", "1,8,32", "--repeats", "5", "--warmup", "1", "-o", out)
    assert result.exit_code == 0, result.output
    service = yaml.safe_load(out.read_text())["service"]
    assert sorted(service["table"]) == [1, 8, 32]
    assert 0 <= service["fit"]["r2"] <= 1
    data = scenario_dict(service={"table_file": "profile.yaml"},
                         batching={"policy": "dynamic", "max_batch_size": 32})
    scenario = Scenario.from_dict(data, base_dir=tmp_path)
    assert scenario.service.distribution == "lognormal"
    assert scenario.service.mean_s(32) > 0 and scenario.service.cv_at(8) >= 0
    assert scenario.to_dict()["service"].get("table_file") is None  # resolved inline


def test_a_failing_model_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(cli, ["profile", f"{MLP}:forward", "--batch-sizes", "1,2"])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {MLP}:forward: failed at batch size 1: ValueError")
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("spec, fragment", [
    ("nocolon", "expected module:function"), ("no_such_module_xyz:f", "cannot import"),
    (f"{MLP}:nope", "has no callable 'nope'"), ("missing.py:f", "cannot import missing.py"),
])
def test_bad_model_specs(spec, fragment):
    result = CliRunner().invoke(cli, ["profile", spec])
    assert result.exit_code == 2 and fragment in result.stderr


def test_bad_batch_sizes():
    result = CliRunner().invoke(cli, ["profile", f"{MLP}:forward", "--batch-sizes", "1,x"])
    assert result.exit_code == 2 and "--batch-sizes" in result.stderr


def test_linear_fit_recovers_a_line():
    table = {k: {"mean": 0.002 + 0.0005 * k} for k in (1, 2, 4, 8)}
    fit = linear_fit(table)
    assert fit["base"] == pytest.approx(0.002) and fit["per_item"] == pytest.approx(0.0005)
    assert fit["r2"] == pytest.approx(1.0)


def test_per_size_cv_table_drives_the_noise():
    data = scenario_dict(
        batching={"policy": "dynamic", "max_batch_size": 8, "max_queue_delay": 0},
        service={"distribution": "lognormal", "cv": 0.1,
                 "table": {1: {"mean": "2ms", "cv": 0.5}, 8: {"mean": "6ms"}}})
    s = Scenario.model_validate(data)
    assert s.service.cv_at(1) == 0.5 and s.service.cv_at(8) == pytest.approx(0.1)
    assert s.service.mean_s(8) == pytest.approx(0.006)
    import numpy as np

    from simulator.workload.service import ServiceSampler

    sampler = ServiceSampler(s.service, np.random.default_rng(3), 8)
    ones = np.array([sampler.sample_s(1) for _ in range(20000)])
    eights = np.array([sampler.sample_s(8) for _ in range(20000)])
    assert ones.mean() == pytest.approx(0.002, rel=0.02)
    assert ones.std() / ones.mean() == pytest.approx(0.5, rel=0.05)
    assert eights.std() / eights.mean() == pytest.approx(0.1, rel=0.05)


def test_table_file_errors_name_the_key(tmp_path):
    data = scenario_dict(service={"table_file": "nope.yaml"})
    with pytest.raises(Exception, match="service.table_file: no such file"):
        Scenario.from_dict(data, source="s.yaml", base_dir=tmp_path)
