"""`batchsim report` and the largest load meeting the SLO."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from simulator.analysis.slo_capacity import max_load_per_setting
from simulator.cli import cli
from simulator.experiments.sweep import run_sweep
from simulator.experiments.sweep_points import resolve_sweep
from simulator.model.grid import parse_grid
from simulator.storage.saved import SavedSweep

from conftest import make_scenario


def fake_sweep(rows):
    return SavedSweep(Path("."), rows, ["arrival.rate", "batching.max_batch_size"],
                      {"slo": {"latency": "100ms", "percentile": 99}})


def row(rate, size, p99_s, saturated=False):
    return {"arrival.rate": rate, "batching.max_batch_size": size, "latency.p99": p99_s,
            "saturated": saturated}


def test_largest_load_is_interpolated_between_the_bracketing_points():
    sweep = fake_sweep([row(100, 1, 0.020), row(200, 1, 0.060), row(300, 1, 0.160),
                        row(100, 8, 0.010), row(200, 8, 0.050), row(300, 8, 0.090),
                        row(100, 32, 0.150)])
    answers = {a.setting["batching.max_batch_size"]: a
               for a in max_load_per_setting(sweep, "arrival.rate")}
    # 60 ms at 200, 160 ms at 300: 100 ms is crossed 40% of the way, at 240 req/s
    assert answers[1].max_load == pytest.approx(240.0)
    assert answers[1].bracket == (200.0, 300.0)
    assert answers[8].max_load == 300.0 and "at least" in answers[8].note
    assert answers[32].max_load is None


def test_a_saturated_point_misses_even_with_a_low_percentile():
    sweep = fake_sweep([row(100, 1, 0.02), row(200, 1, 0.05, saturated=True)])
    (answer,) = max_load_per_setting(sweep, "arrival.rate")
    assert answer.max_load == 100.0 and answer.bracket == (100.0, 200.0)


def test_report_files_exist_and_mention_every_point(tmp_path):
    scenario = make_scenario(run={"duration": 3.0, "warmup": 0.5, "replications": 2},
                             slo={"latency": "20ms"})
    grids = [parse_grid(t, scenario) for t in ("arrival.rate=100:500:200",
                                                "batching.max_batch_size=1,8")]
    sweep = resolve_sweep(scenario, grids, False, tmp_path)
    run_sweep(sweep, workers=1)
    result = CliRunner().invoke(cli, ["report", str(sweep.folder)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    md = (sweep.folder / "report.md").read_text()
    page = (sweep.folder / "report.html").read_text()
    for point in sweep.points:
        assert f"| {point.point_id} |" in md and f"<td>{point.point_id}</td>" in page
    assert "Largest load meeting the SLO" in md
    assert "seed 7" in md and "data:image/png;base64," in page
    assert page.count("<img") == 4 and md.count("](") == 4
    for link in ("latency.png", "throughput.png", "tradeoff.png", "utilisation.png"):
        assert (sweep.folder / link).is_file()


def test_report_of_an_unfinished_sweep_is_exit_2(tmp_path):
    (tmp_path / "sweep.json").write_text("{}")
    result = CliRunner().invoke(cli, ["report", str(tmp_path)], catch_exceptions=False)
    assert result.exit_code == 2 and "not finished" in result.stderr


def test_swept_durations_keep_their_text_and_read_as_seconds():
    sweep = SavedSweep(Path("."), [{"batching.max_queue_delay": "500us"},
                                   {"batching.max_queue_delay": 0}],
                       ["batching.max_queue_delay"], {})
    assert sweep.column("batching.max_queue_delay").tolist() == [0.0005, 0.0]
    assert sweep.rows[0]["batching.max_queue_delay"] == "500us"
