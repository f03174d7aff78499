"""`distribution: empirical`: measured batch times resampled per size (service.samples_file)."""

import math

import numpy as np
import pytest
from click.testing import CliRunner

from simulator.cli import cli
from simulator.experiments.runner import run
from simulator.model.scenario import Scenario
from simulator.workload.service import ServiceSampler

from conftest import scenario_dict

SAMPLES = "batch_size,service_s\n1,0.001\n1,0.003\n4,0.004\n4,0.006\n4,0.008\n"


BATCH4 = {"policy": "dynamic", "max_batch_size": 4}


def empirical(tmp_path, text=SAMPLES, **service):
    (tmp_path / "samples.csv").write_text(text)
    return {"distribution": "empirical", "samples_file": "samples.csv", **service}


def test_measured_sizes_resample_their_own_times(tmp_path):
    data = scenario_dict(service=empirical(tmp_path), batching=BATCH4)
    scenario = Scenario.from_dict(data, base_dir=tmp_path)
    sampler = ServiceSampler(scenario.service, np.random.default_rng(1), 4)
    ones = {round(sampler.sample_s(1), 9) for _ in range(200)}
    fours = [sampler.sample_s(4) for _ in range(3000)]
    assert ones == {0.001, 0.003}
    assert set(np.round(fours, 9)) == {0.004, 0.006, 0.008}
    # uniform resampling: each of the three times about a third of the draws
    for value in (0.004, 0.006, 0.008):
        share = np.mean(np.isclose(fours, value))
        assert abs(share - 1 / 3) < 4 * math.sqrt(2 / 9 / 3000)


def test_unmeasured_sizes_take_the_nearest_shape_at_the_interpolated_mean(tmp_path):
    data = scenario_dict(service=empirical(tmp_path), batching=BATCH4)
    service = Scenario.from_dict(data, base_dir=tmp_path).service
    assert service.mean_s(2) == pytest.approx(0.002 + (0.006 - 0.002) / 3)
    sampler = ServiceSampler(service, np.random.default_rng(2), 4)
    # size 2 is nearest to 1: times 1ms/3ms (factors 0.5, 1.5) scaled to mean(2)
    draws = {round(sampler.sample_s(2) / service.mean_s(2), 6) for _ in range(200)}
    assert draws == {0.5, 1.5}


def test_a_table_sets_the_means_and_the_samples_only_the_shape(tmp_path):
    data = scenario_dict(service=empirical(tmp_path, table={1: "10ms", 4: "20ms"}),
                         batching=BATCH4)
    service = Scenario.from_dict(data, base_dir=tmp_path).service
    sampler = ServiceSampler(service, np.random.default_rng(3), 4)
    assert {round(sampler.sample_s(1), 9) for _ in range(100)} == {0.005, 0.015}


def test_mg1_mean_wait_matches_pollaczek_khinchine(tmp_path):
    """No batching, two equally likely times 1 ms / 3 ms: E[S]=2 ms, E[S^2]=5e-6 s^2."""
    rate = 200.0
    text = "batch_size,service_s\n1,0.001\n1,0.003\n"
    data = scenario_dict(service=empirical(tmp_path, text),
                         batching={"policy": "none"}, arrival={"process": "poisson",
                                                               "rate": rate},
                         run={"duration": 200.0, "warmup": 5.0, "replications": 6})
    summary = run(Scenario.from_dict(data, base_dir=tmp_path)).summary
    rho = rate * 0.002
    theory = rate * 5e-6 / (2 * (1 - rho))
    assert abs(summary["wait"]["mean"] - theory) < 4 * summary["wait_ci95"]["mean"] + 1e-5


@pytest.mark.parametrize("text, problem", [
    ("size,time\n1,0.1\n", "first row must be the header"),
    ("batch_size,service_s\n", "no samples"),
    ("batch_size,service_s\nx,0.1\n", "batch_size is not an integer"),
    ("batch_size,service_s\n1,-2\n", "must be a finite time > 0"),
    ("batch_size,service_s\n0,0.1\n", "batch_size must be >= 1"),
    ("batch_size,service_s\n1,nan\n", "must be a finite time > 0"),
])
def test_bad_samples_files_are_named_errors(write_yaml, tmp_path, text, problem):
    path = write_yaml(scenario_dict(service=empirical(tmp_path, text)))
    result = CliRunner().invoke(cli, ["check", str(path)])
    assert result.exit_code == 2
    assert "service.samples_file" in result.output and problem in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("service, problem", [
    ({"distribution": "empirical"}, "give samples_file exactly when"),
    ({"distribution": "gamma", "cv": 0.2, "samples_file": "samples.csv",
      "base": "1ms"}, "give samples_file exactly when"),
    ({"distribution": "empirical", "samples_file": "missing.csv"}, "samples file not found"),
    ({"distribution": "empirical", "samples_file": "samples.csv", "cv": 0.3},
     "empirical service takes its noise"),
])
def test_inconsistent_empirical_sections(write_yaml, tmp_path, service, problem):
    (tmp_path / "samples.csv").write_text(SAMPLES)
    path = write_yaml(scenario_dict(service=service))
    result = CliRunner().invoke(cli, ["check", str(path)])
    assert result.exit_code == 2 and problem in result.output, result.output


def test_correlated_lognormal_noise_keeps_its_law_and_has_the_asked_correlation():
    data = scenario_dict(service={"base": "2ms", "distribution": "lognormal", "cv": 0.3,
                                  "noise_correlation": 0.6})
    service = Scenario.model_validate(data).service
    sampler = ServiceSampler(service, np.random.default_rng(5), 8)
    times = np.array([sampler.sample_s(1) for _ in range(40_000)])
    factors = times / service.mean_s(1)
    logs = np.log(factors)
    # AR(1) with rho 0.6: the mean of n draws has about (1+rho)/(1-rho) = 4x the iid variance
    assert abs(factors.mean() - 1) < 4 * 0.3 * math.sqrt(4 / factors.size)
    assert factors.std() / factors.mean() == pytest.approx(0.3, rel=0.06)
    assert np.corrcoef(logs[:-1], logs[1:])[0, 1] == pytest.approx(0.6, abs=0.02)
    assert np.corrcoef(logs[:-5], logs[5:])[0, 1] == pytest.approx(0.6**5, abs=0.03)


def test_noise_correlation_needs_lognormal_noise(write_yaml):
    data = scenario_dict(service={"base": "2ms", "distribution": "gamma", "cv": 0.3,
                                  "noise_correlation": 0.5})
    result = CliRunner().invoke(cli, ["check", str(write_yaml(data))])
    assert result.exit_code == 2 and "service.noise_correlation" in result.output
