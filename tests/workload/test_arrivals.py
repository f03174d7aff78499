"""Arrival processes: empirical rate and inter-arrival CV match the parameters."""

import math

import numpy as np
import pytest

from simulator.model.errors import ScenarioError
from simulator.model.scenario import Scenario
from simulator.sim.rng import stream
from simulator.workload.arrivals import ARRIVAL_PROCESSES
from simulator.workload.traces import read_trace_s

from conftest import scenario_dict


def build(**config):
    return ARRIVAL_PROCESSES[config["process"]](**config)


def rate_and_cv(process, horizon_s, seeds=6):
    rates, cvs = [], []
    for seed in range(seeds):
        times = process.times_s(stream(seed, 0, "arrivals"), horizon_s=horizon_s)
        gaps = np.diff(times)
        rates.append(times.size / horizon_s)
        cvs.append(gaps.std() / gaps.mean())
    return np.array(rates), np.array(cvs)


def close(values, expected, floor):
    se = values.std(ddof=1) / math.sqrt(values.size)
    return abs(values.mean() - expected) <= 4 * se + floor


@pytest.mark.parametrize("config", [
    {"process": "poisson", "rate": 1000},
    {"process": "gamma", "rate": 500, "cv": 0.5},
    {"process": "gamma", "rate": 500, "cv": 3.0},
    {"process": "onoff", "rate_on": 2000, "rate_off": 100, "mean_on": "50ms", "mean_off": "150ms"},
    {"process": "onoff", "rate_on": 1000, "rate_off": 0, "mean_on": "1s", "mean_off": "1s"},
])
def test_rate_and_cv_match_parameters(config):
    process = build(**config)
    rates, cvs = rate_and_cv(process, horizon_s=200.0)
    assert close(rates, process.mean_rate_rps, floor=1e-3 * process.mean_rate_rps)
    assert close(cvs, process.interarrival_cv, floor=0.01 * process.interarrival_cv)
    # the standard error is small enough for the checks to mean something
    assert rates.std(ddof=1) / math.sqrt(rates.size) < 0.02 * process.mean_rate_rps


def test_onoff_cv_formula_reduces_to_poisson_when_rates_are_equal():
    process = build(process="onoff", rate_on=50, rate_off=50, mean_on=1, mean_off=3)
    assert process.interarrival_cv == pytest.approx(1.0)
    assert process.mean_rate_rps == pytest.approx(50)


def test_constant_arrivals_are_exactly_spaced():
    times = build(process="constant", rate=250).times_s(None, horizon_s=10.0)
    assert times.size == 2499  # 4 ms apart, the first at 4 ms, all before 10 s
    assert np.allclose(np.diff(times), 0.004)


def test_first_n_arrivals():
    for config in ({"process": "poisson", "rate": 10}, {"process": "constant", "rate": 10},
                   {"process": "onoff", "rate_on": 10, "mean_on": 1, "mean_off": 1}):
        times = build(**config).times_s(stream(1, 0, "arrivals"), n=1234)
        assert times.size == 1234 and np.all(np.diff(times) >= 0)


def test_arrivals_do_not_depend_on_the_rest_of_the_scenario():
    a = Scenario.model_validate(scenario_dict())
    b = a.with_overrides({"batching.policy": "window", "servers.count": 3})
    ta = a.arrival.times_s(stream(a.seed, 2, "arrivals"), horizon_s=5)
    tb = b.arrival.times_s(stream(b.seed, 2, "arrivals"), horizon_s=5)
    assert np.array_equal(ta, tb)


# -- traces ---------------------------------------------------------------------------
AZURE_LIKE = """TIMESTAMP,ContextTokens,GeneratedTokens
2023-11-16 18:17:03.9799600,374,44
2023-11-16 18:17:04.0319600,396,109
2023-11-16 18:17:04.7563200,879,55
2023-11-16 18:17:05.9799600,91,16
"""


def test_datetime_trace_is_read_to_the_100ns(tmp_path):
    path = tmp_path / "azure.csv"
    path.write_text(AZURE_LIKE)
    times = read_trace_s(path, "TIMESTAMP")
    assert times == pytest.approx([0.0, 0.052, 0.7763600, 2.0], abs=1e-9)


def test_numeric_trace_in_milliseconds(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("5\n15\n35\n")
    assert read_trace_s(path, 0, "ms") == pytest.approx([0.0, 0.010, 0.030])


@pytest.mark.parametrize("text, fragment", [
    ("t\n", "no timestamps"),
    ("", "is empty"),
    ("t\n1\n0.5\n", "not sorted (entry 2 goes back in time)"),
    ("t\n1\nabc\n", "line 3: 'abc' is not a number"),
    ("t\n-1\n2\n", "must be finite and >= 0"),
    ("t\n1\nnan\n", "must be finite"),
    ("t\n2023-01-01 00:00:00\nlater\n", "line 3: 'later' is not a timestamp"),
])
def test_bad_traces(tmp_path, text, fragment):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        read_trace_s(path, 0)


def test_bad_trace_in_a_scenario_names_scenario_field_and_trace(tmp_path):
    (tmp_path / "bad.csv").write_text("t\n3\n1\n")
    data = scenario_dict(arrival={"process": "trace", "path": "bad.csv"})
    with pytest.raises(ScenarioError) as info:
        Scenario.from_dict(data, source="s.yaml", base_dir=tmp_path)
    message = str(info.value)
    assert message.startswith("s.yaml: arrival.path: trace ") and "not sorted" in message


def test_trace_scale_to_rate_keeps_the_shape(tmp_path):
    path = tmp_path / "azure.csv"
    path.write_text(AZURE_LIKE)
    data = scenario_dict(arrival={"process": "trace", "path": str(path), "column": "TIMESTAMP",
                                  "scale_to_rate": 3.0})
    s = Scenario.model_validate(data)
    times = s.arrival.times_s(None, horizon_s=100)
    assert times[-1] == pytest.approx(1.0)  # 3 gaps at 3 req/s
    assert times / times[-1] == pytest.approx([0.0, 0.026, 0.38818, 1.0])
