"""`batchsim plan` end to end: the chosen plan holds up, the front is undominated,
the saved plan re-runs, bad input is refused with nothing written."""

import csv
import json

import pytest
from click.testing import CliRunner

from simulator.cli import cli
from simulator.experiments.runner import run
from simulator.model.scenario import Scenario

SCENARIO = """\
name: small
seed: 3
run: {duration: 10s, warmup: 1s, replications: 3}
arrival: {process: poisson, rate: 600}
batching: {policy: dynamic, max_batch_size: 8, max_queue_delay: 2ms}
service: {base: 2ms, per_item: 1ms, distribution: exponential}
servers: {count: 1, cost_per_hour: 0.5}
queue: {capacity: 5000, timeout: 1s}
slo: {latency: 30ms, percentile: 99}
"""
GRIDS = ["--grid", "servers.count=1:6:1", "--grid", "batching.max_batch_size=1,4,16",
         "--grid", "batching.max_queue_delay=0,5ms"]


def _plan(tmp_path, *extra):
    path = tmp_path / "small.yaml"
    path.write_text(SCENARIO)
    out = tmp_path / "results"
    result = CliRunner().invoke(cli, ["plan", str(path), "--slo", "p99=30ms", *GRIDS,
                                      "--out", str(out), *extra])
    return result, out


def _rows(folder, name):
    with open(folder / name) as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def latency_plan(tmp_path_factory):
    result, out = _plan(tmp_path_factory.mktemp("plan"), "--objective", "latency")
    assert result.exit_code == 0, result.output
    return result, next((out / "small").iterdir())


def test_cheapest_plan_meets_the_slo_when_rerun_with_other_seeds(tmp_path):
    result, out = _plan(tmp_path)
    assert result.exit_code == 0, result.output
    folder = next((out / "small").iterdir())
    summary = json.loads((folder / "plan.json").read_text())
    assert summary["simulated_points"] < summary["grid_size"] == 36
    chosen = Scenario.from_yaml(folder / "plan.yaml")
    check = run(chosen, replications=12, seed=987)  # independent of the plan's seeds
    assert check.summary["latency"]["p99"] <= 0.030
    lost = check.summary["requests"]["rejected"] + check.summary["requests"]["timed_out"]
    assert lost <= 0.01 * check.summary["requests"]["arrived"]
    assert (folder / "pareto.png").stat().st_size > 1000


def test_front_is_undominated_and_holds_the_chosen_point(latency_plan):
    _, folder = latency_plan
    rows = [r for r in _rows(folder, "plan.csv") if r["verdict"] == "feasible"]
    front = _rows(folder, "pareto.csv")
    key = "p99<=30ms.bound"

    def criteria(r):
        return float(r["cost_per_hour"]), float(r[key]), -float(r["capacity_rps"])

    for f in front:
        for r in rows:
            a, b = criteria(r), criteria(f)
            assert not (all(x <= y for x, y in zip(a, b, strict=True)) and a != b), (r, f)
    chosen = json.loads((folder / "plan.json").read_text())["chosen"]
    assert min(float(r[key]) for r in rows) == pytest.approx(chosen[key])


def test_max_rate_lists_every_configuration(tmp_path):
    path = tmp_path / "small.yaml"
    path.write_text(SCENARIO)
    result = CliRunner().invoke(cli, ["plan", str(path), "--slo", "p99=30ms", "--max-rate",
                                      "--grid", "batching.max_batch_size=1,8", "--no-save"])
    assert result.exit_code == 0, result.output
    assert result.output.count("\n1 ") + result.output.count("\n8 ") == 2


@pytest.mark.parametrize("args, named", [
    (["--slo", "p99=-3ms"], "--slo"),
    (["--slo", "p101=3ms"], "--slo"),
    (["--slo", "p99=30ms", "--grid", "servers.cuont=1:3:1"], "servers.cuont"),
    (["--slo", "p99=30ms", "--grid", "servers.count=3:1:1"], "servers.count"),
])
def test_bad_plan_input_exits_2_and_writes_nothing(tmp_path, args, named):
    path = tmp_path / "small.yaml"
    path.write_text(SCENARIO)
    out = tmp_path / "results"
    result = CliRunner().invoke(cli, ["plan", str(path), *args, "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert named in result.output and "Traceback" not in result.output
    assert not out.exists() or not any(out.rglob("*.*"))


def test_report_of_a_plan_draws_the_front_from_saved_files(latency_plan):
    _, folder = latency_plan
    (folder / "pareto.png").unlink()
    result = CliRunner().invoke(cli, ["report", str(folder)])
    assert result.exit_code == 0, result.output
    text = (folder / "report.md").read_text()
    assert "Pareto front" in text and "pareto.png" in text
    from matplotlib.image import imread

    height, width, _ = imread(folder / "pareto.png").shape
    assert height > 200 and width > 300
    assert "data:image/png;base64" in (folder / "report.html").read_text()


def test_an_infeasible_plan_names_the_closest_configuration(tmp_path):
    path = tmp_path / "small.yaml"
    path.write_text(SCENARIO)
    out = tmp_path / "results"
    result = CliRunner().invoke(cli, ["plan", str(path), "--slo", "p99=8ms", "--grid",
                                      "batching.max_batch_size=4,8", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "no configuration in the grid meets the SLO" in result.output
    (line,) = [x for x in result.output.splitlines() if x.startswith("closest: ")]
    folder = next((out / "small").iterdir())
    rows = [r for r in _rows(folder, "plan.csv") if r["p99<=8ms.bound"]]
    best = min(rows, key=lambda r: float(r["p99<=8ms.bound"]))
    assert f"batching.max_batch_size={best['batching.max_batch_size']}," in line
    assert float(best["p99<=8ms.bound"]) > 0.008  # it is closest, and still infeasible
