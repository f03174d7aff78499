"""`batchsim plot`: every kind writes a sane image from saved results only."""

import matplotlib.image as mpimg
import pytest
from click.testing import CliRunner

from simulator.cli import cli
from simulator.experiments.sweep import run_sweep
from simulator.experiments.sweep_points import resolve_sweep
from simulator.model.grid import parse_grid

from conftest import make_scenario, scenario_dict


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    scenario = make_scenario(run={"duration": 3.0, "warmup": 0.5, "replications": 2},
                             slo={"latency": "20ms"})
    grids = [parse_grid(t, scenario) for t in ("arrival.rate=100:700:200",
                                                "batching.max_batch_size=1,8")]
    sweep = resolve_sweep(scenario, grids, False, tmp_path_factory.mktemp("sweep"))
    assert run_sweep(sweep, workers=1).csv_path
    return sweep.folder


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, request):
    import yaml

    root = tmp_path_factory.mktemp("run")
    path = root / "s.yaml"
    path.write_text(yaml.safe_dump(scenario_dict(
        run={"duration": 3.0, "warmup": 0.5, "replications": 2}, queue={"timeout": "50ms"})))
    assert invoke("run", path, "--out", root / "out").exit_code == 0
    (folder,) = (root / "out" / "t").iterdir()
    return folder


def assert_sane_image(path, min_px=300):
    assert path.is_file() and path.stat().st_size > 5000
    image = mpimg.imread(path)
    height, width = image.shape[:2]
    assert min_px <= width <= 3000 and min_px <= height <= 3000
    assert image.std() > 0.01  # not a blank canvas


@pytest.mark.parametrize("kind", ["latency", "throughput", "tradeoff", "utilisation"])
def test_sweep_kinds_write_images(sweep_dir, kind):
    result = invoke("plot", sweep_dir, "--kind", kind)
    assert result.exit_code == 0, result.output
    assert_sane_image(sweep_dir / f"{kind}.png")


@pytest.mark.parametrize("kind", ["cdf", "batches", "timeline"])
def test_run_kinds_write_images(run_dir, kind):
    result = invoke("plot", run_dir, "--kind", kind)
    assert result.exit_code == 0, result.output
    assert_sane_image(run_dir / f"{kind}.png")


def test_svg_and_custom_axes(sweep_dir):
    result = invoke("plot", sweep_dir, "--kind", "latency", "--y", "wait.p99", "--x",
                    "offered_rate", "--hue", "batching.max_batch_size", "--format", "svg")
    assert result.exit_code == 0, result.output
    assert (sweep_dir / "latency.svg").read_text().lstrip().startswith("<?xml")


def test_bad_plot_requests_are_exit_2(sweep_dir, run_dir, tmp_path):
    for args in ([sweep_dir, "--kind", "cdf"], [run_dir, "--kind", "latency"],
                 [sweep_dir, "--hue", "nope"], [tmp_path]):
        result = invoke("plot", *args)
        assert result.exit_code == 2 and result.stderr.startswith("error:"), args


def test_queue_timeline_is_time_weighted():
    import numpy as np

    from simulator.reporting.timeline import time_weighted_bins

    # one request queued during [1, 3) of a 4 s run: bins of 2 s hold 0.5 and 0.5
    centres, means = time_weighted_bins(np.array([1.0, 3.0]), np.array([1.0, 0.0]), 4.0, 2)
    assert centres.tolist() == [1.0, 3.0] and means.tolist() == [0.5, 0.5]


def test_report_of_a_run_folder(run_dir):
    result = invoke("report", run_dir)
    assert result.exit_code == 0, result.output
    md = (run_dir / "report.md").read_text()
    assert "latency p99 (ms)" in md and "seed 7" in md and " run " in md
    assert (run_dir / "report.html").read_text().count("<img") == 3


def test_timeline_draws_the_adaptive_cap_it_saved(tmp_path):
    import numpy as np
    import yaml

    from simulator.reporting.plots import plot_timeline
    from simulator.storage.saved import load_result

    path = tmp_path / "a.yaml"
    path.write_text(yaml.safe_dump(scenario_dict(
        run={"duration": 3.0, "warmup": 0.5, "replications": 1},
        batching={"policy": "adaptive", "max_batch_size": 16, "max_queue_delay": "5ms",
                  "latency_objective": "8ms"})))
    assert invoke("run", path, "--out", tmp_path / "out").exit_code == 0
    (folder,) = (tmp_path / "out" / "t").iterdir()
    run = load_result(folder)
    caps = run.arrays()["batch_cap"]
    figure = plot_timeline(run, bins=20)
    lines = {line.get_label(): line for line in figure.axes[1].get_lines()}
    drawn = lines["adaptive cap (mean)"].get_ydata()
    assert np.nanmin(drawn) >= caps.min() and np.nanmax(drawn) <= caps.max()
    assert np.nanmax(drawn) >= np.nanmax(lines["mean batch size"].get_ydata())  # cap >= size
