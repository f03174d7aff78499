"""Grid syntax: lists, linear and log ranges, units, products, zips and errors naming the key."""

import pytest

from simulator.model.errors import ScenarioError
from simulator.model.grid import grid_points, merge_grids, parse_grid, section_grids
from simulator.model.scenario import Scenario
from simulator.model.units import parse_duration_s

from conftest import make_scenario, scenario_dict


def test_linear_range_includes_stop_on_the_step():
    assert parse_grid("arrival.rate=100:500:100") == ("arrival.rate", [100, 200, 300, 400, 500])
    assert parse_grid("arrival.rate=100:450:100")[1] == [100, 200, 300, 400]


def test_float_range_has_no_float_noise_and_keeps_its_stop():
    _, values = parse_grid("arrival.rate=0.1:0.5:0.1")
    assert values == [0.1, 0.2, 0.3, 0.4, 0.5]


def test_duration_range_and_list_keep_units():
    _, values = parse_grid("batching.max_queue_delay=1ms:4ms:1ms")
    assert [parse_duration_s(v) for v in values] == pytest.approx([1e-3, 2e-3, 3e-3, 4e-3])
    assert parse_grid("batching.max_queue_delay=500us,2ms")[1] == ["500us", "2ms"]


def test_log_range_is_geometric_with_both_ends():
    _, values = parse_grid("arrival.rate=10:10000:log:7")
    assert values[0] == 10 and values[-1] == 10000 and len(values) == 7
    ratios = [b / a for a, b in zip(values, values[1:], strict=False)]
    assert max(ratios) / min(ratios) < 1.05  # near-constant ratio (integers rounded)
    assert parse_grid("batching.max_batch_size=1:64:log:7")[1] == [1, 2, 4, 8, 16, 32, 64]


def test_comma_list_reads_yaml_scalars():
    assert parse_grid("batching.policy=dynamic,none")[1] == ["dynamic", "none"]
    assert parse_grid("batching.max_batch_size=1,8,32")[1] == [1, 8, 32]


@pytest.mark.parametrize("text, words", [
    ("arrival.rate=500:100:100", ["arrival.rate", "stop is below"]),
    ("arrival.rate=100:500:0", ["arrival.rate", "step must be positive"]),
    ("arrival.rate=100:500", ["arrival.rate", "start:stop:step"]),
    ("arrival.rate=a:b:c", ["arrival.rate", "cannot read"]),
    ("arrival.rate=0:100:log:5", ["arrival.rate", "positive"]),
    ("arrival.rate=1:100:log:x", ["arrival.rate", "integer"]),
    ("batching.max_queue_delay=1ms:5:1ms", ["max_queue_delay", "unit"]),
    ("arrival.rate=1,,2", ["arrival.rate", "empty"]),
    ("arrival.rate", ["KEY=VALUES"]),
])
def test_bad_grid_text_names_the_key(text, words):
    with pytest.raises(ScenarioError) as info:
        parse_grid(text)
    for word in words:
        assert word in str(info.value)
    assert "\n" not in str(info.value)


def test_unknown_key_and_bad_value_are_caught_against_the_scenario():
    scenario = make_scenario()
    with pytest.raises(ScenarioError, match=r"arrival\.rat.*unknown key.*'rate'"):
        parse_grid("arrival.rat=1,2", scenario)
    with pytest.raises(ScenarioError, match=r"batching\.max_batch_size"):
        parse_grid("batching.max_batch_size=8,0", scenario)
    assert parse_grid("arrival.rate=100,200", scenario)[1] == [100, 200]


def test_product_varies_last_key_fastest_and_zip_pairs():
    grids = [("a.x", [1, 2]), ("b.y", ["p", "q", "r"])]
    points = grid_points(grids)
    assert len(points) == 6 and points[:2] == [{"a.x": 1, "b.y": "p"}, {"a.x": 1, "b.y": "q"}]
    assert grid_points([("a.x", [1, 2]), ("b.y", [3, 4])], zip_grids=True) == [
        {"a.x": 1, "b.y": 3}, {"a.x": 2, "b.y": 4}]
    with pytest.raises(ScenarioError, match="equal length"):
        grid_points(grids, zip_grids=True)
    with pytest.raises(ScenarioError, match="swept twice"):
        grid_points([("a.x", [1]), ("a.x", [2])])


def test_sweep_section_in_a_scenario_file_and_cli_grids_replace_its_keys():
    data = scenario_dict(sweep={"grid": {"arrival.rate": "100:300:100",
                                         "batching.max_batch_size": [1, 8]}})
    scenario = Scenario.from_dict(data, source="s.yaml")
    grids = section_grids(scenario.sweep, scenario, "s.yaml")
    assert grids == [("arrival.rate", [100, 200, 300]), ("batching.max_batch_size", [1, 8])]
    merged = merge_grids(grids, [("arrival.rate", [50])])
    assert dict(merged)["arrival.rate"] == [50] and len(merged) == 2


def test_bad_sweep_section_names_the_file_and_key():
    data = scenario_dict(sweep={"grid": {"arrival.rate": "300:100:100"}})
    with pytest.raises(ScenarioError, match=r"s\.yaml.*arrival\.rate.*stop is below"):
        Scenario.from_dict(data, source="s.yaml")
    data = scenario_dict(sweep={"grid": {"arrival.rte": [1]}})
    scenario = Scenario.from_dict(data, source="s.yaml")
    with pytest.raises(ScenarioError, match=r"sweep\.grid.*arrival\.rte.*unknown key"):
        section_grids(scenario.sweep, scenario, "s.yaml")


def test_the_example_study_file_plans_30_points(tmp_path):
    from pathlib import Path

    from simulator.experiments.sweep_points import resolve_sweep

    path = Path(__file__).parents[2] / "scenarios/sweep-study.yaml"
    scenario = Scenario.from_yaml(path)
    grids = section_grids(scenario.sweep, scenario, str(path))
    sweep = resolve_sweep(scenario, grids, scenario.sweep.zip, tmp_path)
    assert len(sweep.points) == 30
    assert sweep.points[1].overrides == {"arrival.rate": 200, "batching.max_batch_size": 4}
    assert sweep.points[1].scenario.sweep is None and not list(tmp_path.iterdir())
