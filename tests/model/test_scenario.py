"""Scenario validation: every bad input is one ScenarioError naming file, key and value."""

import json

import pytest

from simulator.model.errors import ScenarioError
from simulator.model.overrides import parse_set_options
from simulator.model.scenario import Scenario

from conftest import BASE, make_scenario, scenario_dict


def error_of(data, **kw) -> str:
    with pytest.raises(ScenarioError) as info:
        Scenario.from_dict(data, source="s.yaml", **kw)
    return str(info.value)


def test_base_scenario_is_valid_and_defaults_fill_in():
    s = make_scenario()
    assert s.servers.count == 1
    assert s.queue.capacity == 100_000 and s.queue.timeout is None
    assert s.batching.max_queue_delay == pytest.approx(0.002)
    assert s.capacity_rps == pytest.approx(8 / 0.006)


@pytest.mark.parametrize("section, patch, field, fragment", [
    ("arrival", {"rat": 5}, "arrival.rat", "did you mean 'rate'"),
    ("batching", {"max_batch_sise": 5}, "batching.max_batch_sise", "did you mean 'max_batch_size'"),
    ("arrival", {"rate": -5}, "arrival.rate", "greater than 0 (got -5)"),
    ("arrival", {"rate": "fast"}, "arrival.rate", "valid number (got 'fast')"),
    ("arrival", {"rate": float("nan")}, "arrival.rate", "finite"),
    ("batching", {"max_batch_size": 0}, "batching.max_batch_size", "greater than or equal to 1"),
    ("batching", {"max_batch_size": 2.5}, "batching.max_batch_size", "valid integer"),
    ("batching", {"max_queue_delay": "5 parsecs"}, "batching.max_queue_delay", "unknown time unit"),
    ("batching", {"policy": "dynamc"}, "batching.policy", "did you mean 'dynamic'"),
    ("arrival", {"process": "posson"}, "arrival.process", "did you mean 'poisson'"),
    ("service", {"cv": -0.1, "distribution": "gamma"}, "service.cv", "greater than or equal to 0"),
    ("run", {"warmup": "30s"}, "run.warmup", "shorter than duration"),
])
def test_field_errors_name_key_and_value(section, patch, field, fragment):
    data = scenario_dict()
    data[section] = {**data[section], **patch}
    message = error_of(data)
    assert message.startswith(f"s.yaml: {field}: "), message
    assert fragment in message
    assert "\n" not in message


def test_missing_required_section():
    data = scenario_dict()
    del data["arrival"]
    assert error_of(data) == "s.yaml: arrival: required key is missing"


def test_missing_discriminator_lists_choices():
    data = scenario_dict(arrival={"rate": 5})
    assert "arrival.process: required key is missing (one of: poisson" in error_of(data)


def test_unknown_top_level_key():
    data = scenario_dict(sevrers={"count": 2})
    assert "s.yaml: sevrers: unknown key; did you mean 'servers'?" in error_of(data)


def test_duration_xor_requests():
    data = scenario_dict(run={"duration": 5, "requests": 100})
    assert "exactly one of run.duration and run.requests" in error_of(data)
    assert "run.duration" in error_of(scenario_dict(run={"replications": 2}))


def test_table_must_cover_max_batch_size():
    data = scenario_dict(service={"table": {1: "2ms", 4: "4ms"}})
    message = error_of(data)
    assert "batching.max_batch_size" in message and "largest size in service.table (4)" in message


def test_deterministic_service_refuses_cv():
    message = error_of(scenario_dict(service={"base": "1ms", "cv": 0.3}))
    assert "service.cv" in message and "(got 0.3)" in message


def test_huge_runs_refused_up_front():
    data = scenario_dict(run={"duration": "1h"}, arrival={"process": "poisson", "rate": 1e6})
    assert "more than the limit" in error_of(data)


def test_unstable_system_is_allowed_with_a_warning():
    s = make_scenario(arrival={"process": "poisson", "rate": 5000})
    assert s.offered_load > 1
    assert any("unstable" in w for w in s.warnings())
    assert make_scenario().warnings() == []


def test_table_service_interpolates():
    s = make_scenario(service={"table": {1: "2ms", 4: "5ms", 8: "9ms"}})
    assert s.service.mean_s(2) == pytest.approx(0.003)
    assert s.service.mean_s(8) == pytest.approx(0.009)


# -- overrides ------------------------------------------------------------------------
def test_set_values_are_yaml_scalars_and_validated():
    overrides = parse_set_options(["batching.max_queue_delay=2ms", "arrival.rate=900",
                                   "slo.latency=50ms"])
    assert overrides == {"batching.max_queue_delay": "2ms", "arrival.rate": 900,
                         "slo.latency": "50ms"}
    s = Scenario.from_dict(BASE, overrides=overrides)
    assert s.batching.max_queue_delay == pytest.approx(0.002)
    assert s.arrival.rate == 900 and s.slo.latency == pytest.approx(0.05)


def test_bad_override_names_the_set_option():
    with pytest.raises(ScenarioError) as info:
        Scenario.from_dict(BASE, source="s.yaml", overrides={"arrival.rate": -1})
    assert str(info.value).startswith("s.yaml (--set arrival.rate=-1): arrival.rate:")


def test_override_through_a_value_is_an_error():
    with pytest.raises(ScenarioError, match="arrival.rate: is a value, not a section"):
        Scenario.from_dict(BASE, source="s.yaml", overrides={"arrival.rate.x": 1})


@pytest.mark.parametrize("item", ["noequals", "=5", "a.b="])
def test_malformed_set_option(item):
    with pytest.raises(ScenarioError):
        parse_set_options([item])


def test_with_overrides_switches_policy():
    s = make_scenario().with_overrides({"batching.policy": "window"})
    assert s.batching.policy == "window"


# -- files ----------------------------------------------------------------------------
def test_yaml_round_trip(write_yaml):
    s = make_scenario(slo={"latency": "100ms"})
    again = Scenario.from_yaml(write_yaml(s.to_yaml()))
    assert again == s


@pytest.mark.parametrize("content, fragment", [
    ("", "empty scenario file"),
    ("name: [unclosed", "not valid YAML: line"),
    ("- a\n- b\n", "a scenario is a mapping"),
    (b"\xff\xfe\x00garbage", "not UTF-8"),
    ("a: &x [1, 2]\nb: *x\n", "anchors and aliases"),
    ("name: a\nname: b\n", "duplicate key 'name'"),
    ("name: !!python/object:os.system x\n", "not valid YAML"),
])
def test_bad_files(write_yaml, content, fragment):
    path = write_yaml(content)
    with pytest.raises(ScenarioError) as info:
        Scenario.from_yaml(path)
    assert str(info.value).startswith(str(path)) and fragment in str(info.value)


def test_missing_file():
    with pytest.raises(ScenarioError, match="nope.yaml: no such file"):
        Scenario.from_yaml("nope.yaml")


def test_trace_path_relative_to_scenario_and_missing_trace(write_yaml, tmp_path):
    (tmp_path / "t.csv").write_text("t\n0\n0.5\n1.0\n1.5\n")
    data = scenario_dict(arrival={"process": "trace", "path": "t.csv", "column": "t"})
    s = Scenario.from_yaml(write_yaml(data))
    assert s.arrival.mean_rate_rps == pytest.approx(2.0)
    data["arrival"]["path"] = "missing.csv"
    with pytest.raises(ScenarioError, match=r"arrival.path: trace file .*missing.csv not found"):
        Scenario.from_yaml(write_yaml(data))


def test_json_schema_lists_every_section_and_durations_accept_strings():
    schema = Scenario.model_json_schema()
    assert set(schema["properties"]) >= {"name", "run", "arrival", "batching", "service",
                                         "servers", "queue", "slo"}
    text = json.dumps(schema)
    assert "5ms" in text and '"pattern"' in text
    assert schema["additionalProperties"] is False


def test_yaml_sexagesimal_numbers_stay_strings():
    """YAML 1.1 would read 1:2:3 as 3723: a typo must not become a huge number."""
    assert parse_set_options(["run.replications=1:2:3"]) == {"run.replications": "1:2:3"}
    with pytest.raises(ScenarioError, match="run.replications: input should be a valid integer"):
        Scenario.from_dict(BASE, overrides=parse_set_options(["run.replications=1:2:3"]))


def test_a_bad_value_is_named_once():
    data = scenario_dict(queue={"timeout": "-1ms"})
    with pytest.raises(ScenarioError) as caught:
        Scenario.from_dict(data, source="s.yaml")
    assert str(caught.value).count("'-1ms'") == 1, str(caught.value)
    assert "queue.timeout" in str(caught.value) and "negative" in str(caught.value)


def test_switching_policy_drops_the_knobs_the_new_one_does_not_take():
    base = make_scenario(batching={"policy": "tfserving", "max_batch_size": 16,
                                   "max_queue_delay": "5ms", "max_enqueued_batches": 3})
    dynamic = base.with_overrides({"batching.policy": "dynamic"})
    assert dynamic.batching.policy == "dynamic" and dynamic.batching.max_batch_size == 16
    assert dynamic.batching.max_queue_delay == pytest.approx(0.005)
    assert "max_enqueued_batches" not in dynamic.to_dict()["batching"]
    none = base.with_overrides({"batching.policy": "none"})
    assert none.batching.max_batch_size == 1
    # a knob the override sets itself is kept (and still checked)
    with pytest.raises(ScenarioError, match="batching.max_batch_size"):
        base.with_overrides({"batching.policy": "none", "batching.max_batch_size": 4})
    # the same policy again changes nothing; an unknown one is still refused
    same = base.with_overrides({"batching.policy": "tfserving"})
    assert same.batching.max_enqueued_batches == 3
    with pytest.raises(ScenarioError, match="did you mean 'dynamic'"):
        base.with_overrides({"batching.policy": "dynamc"})
