"""`batchsim sweep`: parallel == serial == `batchsim run`, resume, interrupts, failures."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from simulator.cli import cli
from simulator.experiments import sweep as sweep_module
from simulator.experiments.runner import json_safe, run
from simulator.experiments.sweep import run_sweep
from simulator.experiments.sweep_points import resolve_sweep
from simulator.model.grid import parse_grid

from conftest import make_scenario

GRIDS = ["arrival.rate=200:600:200", "batching.max_batch_size=1,8"]


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def small_sweep(out: Path, **run_section):
    scenario = make_scenario(run={"duration": 4.0, "warmup": 0.5, "replications": 3,
                                  **run_section})
    grids = [parse_grid(text, scenario) for text in GRIDS]
    return resolve_sweep(scenario, grids, False, out)


def read_rows(path: Path) -> list[dict]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def test_csv_is_tidy_with_swept_keys_and_flattened_metrics(tmp_path):
    outcome = run_sweep(small_sweep(tmp_path), workers=1)
    rows = read_rows(outcome.csv_path)
    assert len(rows) == 6
    assert list(rows[0])[:3] == ["point", "arrival.rate", "batching.max_batch_size"]
    for column in ("offered_rate", "throughput", "goodput", "latency.p99", "latency_ci95.p99",
                   "wait.p999", "batch_size.mean", "utilization", "requests.rejected",
                   "requests.timed_out", "saturated"):
        assert column in rows[0]
    assert [(r["arrival.rate"], r["batching.max_batch_size"]) for r in rows[:3]] == [
        ("200", "1"), ("200", "8"), ("400", "1")]
    # below capacity throughput follows the offered rate (Poisson: sd = sqrt(rate / window));
    # beyond it (rate 600 > 400 req/s at batch 1) it sits at capacity and is marked saturated
    window_s = 3 * 3.5
    for row in rows:
        rate, capacity = float(row["arrival.rate"]), float(row["capacity_rps"])
        expected = min(rate, capacity)
        assert abs(float(row["throughput"]) - expected) < 4 * (rate / window_s) ** 0.5
        if rate != capacity:  # exactly at capacity either outcome is possible
            assert row["saturated"] == ("true" if rate > capacity else "false")


def test_parallel_serial_and_batchsim_run_agree_exactly(tmp_path, monkeypatch):
    serial = run_sweep(small_sweep(tmp_path / "a"), workers=1).csv_path.read_text()
    parallel = run_sweep(small_sweep(tmp_path / "b"), workers=2).csv_path.read_text()
    assert serial == parallel  # tasks of whole points
    monkeypatch.setattr(sweep_module, "WHOLE_POINT_FACTOR", 100)
    per_replication = run_sweep(small_sweep(tmp_path / "c"), workers=2).csv_path.read_text()
    assert per_replication == serial
    sweep = small_sweep(tmp_path / "a")
    point = sweep.points[3]
    saved = json.loads(sweep.point_file(point).read_text())["summary"]
    alone = run(point.scenario, workers=2)
    assert saved == json.loads(json.dumps(json_safe(alone.summary)))


def test_resume_after_an_interrupt_computes_only_the_missing_points(tmp_path):
    reference = run_sweep(small_sweep(tmp_path / "ref"), workers=1).csv_path.read_text()
    sweep = small_sweep(tmp_path / "cut")
    ticks = []

    def stop_after_two():
        ticks.append(1)
        if len(ticks) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(sweep, workers=1, on_point=stop_after_two)
    assert len(sweep.missing()) == 4 and not (sweep.folder / "sweep.csv").exists()
    assert not [p for p in sweep.folder.rglob("*") if p.name.startswith(".")]
    outcome = run_sweep(small_sweep(tmp_path / "cut"), workers=2)
    assert outcome.skipped == 2 and len(outcome.computed) == 4
    assert outcome.csv_path.read_text() == reference


def _explode_at_rate_400(scenario, replication):
    if scenario.arrival.rate == 400:
        raise RuntimeError("boom")
    from simulator.sim import simulate

    return simulate(scenario, replication)


@pytest.mark.parametrize("whole_point_factor", [2, 100])
def test_a_crashing_point_is_reported_and_the_others_are_kept(tmp_path, monkeypatch,
                                                              whole_point_factor):
    import simulator.experiments.runner

    monkeypatch.setattr(sweep_module, "WHOLE_POINT_FACTOR", whole_point_factor)
    monkeypatch.setattr(sweep_module, "simulate", _explode_at_rate_400)
    monkeypatch.setattr(simulator.experiments.runner, "simulate", _explode_at_rate_400)
    sweep = small_sweep(tmp_path)
    outcome = run_sweep(sweep, workers=1)
    assert set(outcome.failed) == {"p00002", "p00003"}
    assert "RuntimeError: boom" in outcome.failed["p00002"]
    assert len(outcome.computed) == 4 and outcome.csv_path is None
    monkeypatch.undo()
    again = run_sweep(small_sweep(tmp_path), workers=1)
    assert sorted(again.computed) == ["p00002", "p00003"] and again.csv_path


def test_cli_sweep_and_section_in_file(tmp_path, write_yaml):
    from conftest import scenario_dict

    path = write_yaml(scenario_dict(run={"duration": 3.0, "warmup": 0.5, "replications": 2},
                                    sweep={"grid": {"arrival.rate": [100, 300],
                                                    "batching.max_batch_size": [2, 4]},
                                           "zip": True}))
    result = invoke("sweep", path, "--out", tmp_path / "r", "--workers", 1)
    assert result.exit_code == 0, result.output
    assert "%|" not in result.stderr  # no progress bar when stderr is not a terminal
    (folder,) = (tmp_path / "r" / "t").iterdir()
    rows = read_rows(folder / "sweep.csv")
    assert [(r["arrival.rate"], r["batching.max_batch_size"]) for r in rows] == [
        ("100", "2"), ("300", "4")]
    assert "sweep:" in (folder / "scenario.yaml").read_text()
    assert len(list((folder / "points").iterdir())) == 2


@pytest.mark.parametrize("grid, words", [
    ("arrival.rat=1,2", ["arrival.rat", "unknown key"]),
    ("arrival.rate=300:100:10", ["arrival.rate", "stop is below"]),
    ("batching.max_batch_size=1,-4", ["batching.max_batch_size"]),
])
def test_cli_bad_grid_is_exit_2_naming_the_key_and_writes_nothing(tmp_path, grid, words):
    result = invoke("sweep", Path(__file__).parents[2] / "scenarios/quickstart.yaml",
                    "--grid", grid, "--out", tmp_path)
    assert result.exit_code == 2
    line = result.stderr.strip()
    assert line.startswith("error:") and "\n" not in line
    for word in words:
        assert word in line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_stops_within_a_second_and_the_rerun_finishes_the_same_csv(tmp_path, signum):
    root = Path(__file__).parents[2]
    args = [sys.executable, "-m", "simulator", "sweep", str(root / "scenarios/quickstart.yaml"),
            "--set", "run.duration=20s", "--set", "run.warmup=1s", "--replications", "2",
            "--grid", "arrival.rate=200:1400:200", "--workers", "2", "--quiet"]
    process = subprocess.Popen([*args, "--out", str(tmp_path / "cut")], cwd=root,
                               stderr=subprocess.PIPE, text=True)
    points = tmp_path / "cut" / "quickstart"
    deadline = time.monotonic() + 60
    while not list(points.glob("*/points/*.json")) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signum)
    sent = time.monotonic()
    _, stderr = process.communicate(timeout=30)
    assert time.monotonic() - sent < 2.5
    assert process.returncode == 130 and "resume" in stderr
    (folder,) = points.iterdir()
    assert not (folder / "sweep.csv").exists()
    assert not [p for p in folder.rglob("*") if p.name.startswith(".")]
    env = {**os.environ}
    subprocess.run([*args, "--out", str(tmp_path / "cut")], cwd=root, check=True, env=env,
                   capture_output=True)
    subprocess.run([*args, "--out", str(tmp_path / "full")], cwd=root, check=True, env=env,
                   capture_output=True)
    (full,) = (tmp_path / "full" / "quickstart").iterdir()
    assert (folder / "sweep.csv").read_text() == (full / "sweep.csv").read_text()


def test_concurrent_sweeps_into_one_root_do_not_clobber_each_other(tmp_path):
    root = Path(__file__).parents[2]

    def command(out, grid):
        return [sys.executable, "-m", "simulator", "sweep",
                str(root / "scenarios/quickstart.yaml"), "--set", "run.duration=3s",
                "--set", "run.warmup=0.5s", "--replications", "2", "--workers", "1", "--quiet",
                "--out", str(out), "--grid", grid]

    shared, load_grid = tmp_path / "shared", "arrival.rate=200:1000:400"
    runs = [command(shared, load_grid), command(shared, load_grid),
            command(shared, "batching.max_batch_size=2,4")]
    processes = [subprocess.Popen(args, cwd=root, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE) for args in runs]
    for process in processes:
        process.communicate(timeout=120)
        assert process.returncode == 0
    subprocess.run(command(tmp_path / "alone", load_grid), cwd=root, check=True,
                   capture_output=True)
    folders = sorted((shared / "quickstart").iterdir())
    assert len(folders) == 2
    (alone,) = (tmp_path / "alone" / "quickstart").iterdir()
    (twin,) = [f for f in folders if f.name == alone.name]
    assert (twin / "sweep.csv").read_text() == (alone / "sweep.csv").read_text()
    assert not [p for p in shared.rglob(".*")]


def test_kept_arrays_are_the_same_whichever_way_the_point_ran(tmp_path, monkeypatch):
    import numpy as np

    whole = small_sweep(tmp_path / "whole")
    run_sweep(whole, workers=1, keep_arrays=True)
    monkeypatch.setattr(sweep_module, "WHOLE_POINT_FACTOR", 100)
    split = small_sweep(tmp_path / "split")
    run_sweep(split, workers=2, keep_arrays=True)
    point = whole.points[4]
    with np.load(whole.arrays_file(point)) as a, np.load(split.arrays_file(point)) as b:
        assert a.files == b.files
        for name in a.files:
            np.testing.assert_array_equal(a[name], b[name])
        assert a["arrival_s"].size > 0
    result = invoke("plot", whole.folder, "--point", point.point_id, "--kind", "cdf")
    assert result.exit_code == 0, result.output
    assert (whole.folder / f"{point.point_id}-cdf.png").stat().st_size > 5000
