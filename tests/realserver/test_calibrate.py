"""`batchsim calibrate` / `validate` on logs that batchsim itself generated, and bad logs."""

import json
import math

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from simulator.cli import cli
from simulator.model.scenario import Scenario
from simulator.model.units import parse_duration_s as seconds
from simulator.realserver.calibration import calibrate_logs
from simulator.realserver.servelog import read_log, write_log
from simulator.realserver.simlog import log_columns
from simulator.realserver.validation import measured_latency_s, measured_statistics, relative_error
from simulator.sim import simulate

from conftest import scenario_dict

BEFORE = {"mean": "200us", "distribution": "lognormal", "cv": 0.5}
AFTER = {"mean": "100us", "distribution": "lognormal", "cv": 0.8}
SIZES = range(1, 9)


def known_scenario(seed=3, duration=60.0, rate=500.0):
    table = {k: {"mean": 1e-3 + 0.25e-3 * k, "cv": 0.2} for k in SIZES}
    return Scenario.model_validate(scenario_dict(
        seed=seed, run={"duration": duration, "replications": 1},
        arrival={"process": "poisson", "rate": rate},
        batching={"policy": "dynamic", "max_batch_size": 8, "max_queue_delay": 0},
        service={"distribution": "lognormal", "table": table,
                 "overhead": {"before": BEFORE, "after": AFTER}}))


def synthetic_log(path, scenario):
    """One replication of `scenario` written as a real-server log."""
    settings = {"rate_rps": scenario.arrival.rate, "max_batch_size": 8, "max_queue_delay_s": 0}
    write_log(path, log_columns(simulate(scenario, 0)), settings)
    return path


def test_calibration_recovers_the_parameters_batchsim_was_run_with(tmp_path):
    log = synthetic_log(tmp_path / "log.csv", known_scenario())
    out = tmp_path / "fitted.yaml"
    fit, _ = calibrate_logs([log], out)
    assert fit.turnaround_s == pytest.approx(0, abs=1e-9)  # back-to-back batches touch
    assert fit.wakeup_s == pytest.approx(0, abs=1e-9)      # an idle server starts at once
    service = yaml.safe_load(out.read_text())["service"]
    sizes, occupancy = fit.sizes, fit.occupancy_s
    for size, entry in service["table"].items():
        n = int((sizes == size).sum())
        if n < 5:
            continue  # extrapolated (tested below)
        true_mean = 1e-3 + 0.25e-3 * size
        # the sample mean of n lognormal times of cv 0.2: standard error 0.2 * mean / sqrt(n)
        assert abs(seconds(entry["mean"]) - true_mean) < 4 * 0.2 * true_mean / math.sqrt(n) + 1e-9
        if n >= 200:
            assert entry["cv"] == pytest.approx(0.2, rel=0.15)
    assert occupancy.size == sizes.size
    overhead = service["overhead"]
    assert seconds(overhead["before"]["mean"]) == pytest.approx(200e-6, rel=0.03)
    assert overhead["before"]["cv"] == pytest.approx(0.5, rel=0.1)
    assert seconds(overhead["after"]["mean"]) == pytest.approx(100e-6, rel=0.05)
    assert overhead["after"]["cv"] == pytest.approx(0.8, rel=0.2)
    # the scenario written is one `batchsim run` accepts
    assert Scenario.from_yaml(out).batching.max_batch_size == 8


def test_empirical_calibration_writes_samples_that_reproduce_the_log(tmp_path):
    log = synthetic_log(tmp_path / "log.csv", known_scenario(duration=20.0))
    out = tmp_path / "fitted.yaml"
    fit, _ = calibrate_logs([log], out, empirical=True)
    scenario = Scenario.from_yaml(out)
    assert scenario.service.distribution == "empirical"
    samples = np.loadtxt(tmp_path / "fitted-samples.csv", delimiter=",", skiprows=1)
    assert samples.shape[0] == fit.sizes.size
    size1 = samples[samples[:, 0] == 1, 1]
    assert scenario.service.mean_s(1) == pytest.approx(size1.mean(), rel=1e-5)


def test_sizes_never_seen_are_extrapolated_up_to_the_requested_maximum(tmp_path):
    log = synthetic_log(tmp_path / "log.csv", known_scenario(duration=20.0, rate=150.0))
    out = tmp_path / "fitted.yaml"
    _, notes = calibrate_logs([log], out, max_batch_size=32)
    table = yaml.safe_load(out.read_text())["service"]["table"]
    assert max(table) == 32 and any("extrapolated" in n for n in notes)
    # the line through 1 ms + 0.25 ms/request gives about 9 ms at 32
    assert seconds(table[32]["mean"]) == pytest.approx(1e-3 + 0.25e-3 * 32, rel=0.15)


def test_validate_against_its_own_scenario_predicts_within_noise(tmp_path):
    scenario = known_scenario(seed=11, duration=30.0)
    log = synthetic_log(tmp_path / "log.csv", scenario)
    scenario_path = tmp_path / "truth.yaml"
    scenario_path.write_text(scenario.to_yaml())
    result = CliRunner().invoke(cli, ["validate", str(scenario_path), str(log), "--format",
                                      "json", "--replications", "4"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["arrivals"] == "trace"
    for key in ("p50", "mean", "p90"):
        stat = report["statistics"][key]
        assert stat["relative_error"] == pytest.approx(
            (stat["predicted_s"] - stat["measured_s"]) / stat["measured_s"])
        assert abs(stat["relative_error"]) < 0.05  # same model, other noise draws


def test_validate_arithmetic_on_a_hand_made_log(tmp_path):
    n = 11
    scheduled = np.arange(n) * 0.1
    latency = np.r_[np.full(5, 0.001), np.linspace(0.002, 0.006, 6)]
    columns = {"scheduled_s": scheduled, "batch_id": np.arange(n), "batch_size": np.ones(n),
               "batch_start_s": scheduled, "batch_finish_s": scheduled + latency,
               "received_s": scheduled + latency}
    columns["received_s"][3] = np.nan  # one unanswered request in the window
    columns["batch_id"][3] = -1
    path = tmp_path / "hand.csv"
    write_log(path, {**columns, **_empty_columns(n)}, {})
    log = read_log(path)
    measured, unanswered = measured_latency_s(log, warmup_s=0.25)
    assert unanswered == 1
    assert np.allclose(np.sort(measured), np.sort(latency[[4, 5, 6, 7, 8, 9, 10]]))
    stats = measured_statistics(measured)
    assert stats["mean"] == pytest.approx(latency[[4, 5, 6, 7, 8, 9, 10]].mean())
    assert stats["p50"] == pytest.approx(np.percentile(latency[4:], 50))
    assert relative_error(0.0011, 0.001) == pytest.approx(0.1)
    assert relative_error(0.0009, 0.001) == pytest.approx(-0.1)
    assert relative_error(1.0, 0.0) is None and relative_error(None, 1.0) is None


def _empty_columns(n):
    return {"request_id": np.arange(n), "sent_s": np.full(n, np.nan),
            "arrival_s": np.full(n, np.nan), "enqueue_s": np.full(n, np.nan),
            "idle_arrival": np.full(n, -1)}


GOOD_HEADER = "scheduled_s,batch_id,batch_size,batch_start_s,batch_finish_s,received_s\n"
GOOD_ROWS = "0.1,0,1,0.1,0.2,0.3\n0.2,1,1,0.25,0.3,0.35\n"


@pytest.mark.parametrize("text, problem", [
    ("", "empty log"),
    ("scheduled_s,batch_id\n0.1,0\n0.2,1\n", "batch_size: required column is missing"),
    (GOOD_HEADER + "0.1,0,1,0.1,0.2,abc\n0.2,1,1,0.2,0.3,0.4\n", "line 2: received_s: not a "
     "number"),
    (GOOD_HEADER + "0.1,0,1,0.1,0.2,0.15\n0.2,1,1,0.2,0.3,0.4\n", "line 2: received_s: earlier "
     "than batch_finish_s"),
    (GOOD_HEADER + "0.1,0,2,0.2,0.3,0.4\n0.2,0,2,0.2,0.35,0.4\n", "differs from the other rows"),
    (GOOD_HEADER + "0.1,0,1,0.1,0.2,0.3\n0.1,0,1,0.1,0.2,0.3\n0.2,1,1,0.2,0.3,0.4\n",
     "more than its size"),
    (GOOD_HEADER + "0.1,0,1,0.1,0.2,0.3\n", "at least two requests"),
    (GOOD_HEADER + ",0,1,0.1,0.2,0.3\n" + GOOD_ROWS, "line 2: scheduled_s: empty cell"),
    (GOOD_HEADER + "0.1,0,1,0.1,inf,0.3\n" + GOOD_ROWS, "must be a finite number"),
    ("# max_batch_size=eight max_queue_delay_s=0\n" + GOOD_HEADER + GOOD_ROWS,
     "settings line: max_batch_size: not a number"),
    ("# max_batch_size=8 max_queue_delay_s=-1\n" + GOOD_HEADER + GOOD_ROWS,
     "settings line: max_queue_delay_s: must be a finite number >= 0"),
])
@pytest.mark.parametrize("command", ["calibrate", "validate"])
def test_bad_logs_are_one_line_errors_naming_file_and_column(tmp_path, text, problem, command):
    log = tmp_path / "bad.csv"
    log.write_text(text)
    scenario = tmp_path / "s.yaml"
    scenario.write_text(yaml.safe_dump(scenario_dict()))
    out = tmp_path / "out.yaml"
    args = (["calibrate", str(log), "-o", str(out)] if command == "calibrate"
            else ["validate", str(scenario), str(log)])
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert "bad.csv" in result.output and problem in result.output, result.output
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
    assert not out.exists()


def test_missing_log_and_bad_options(tmp_path):
    scenario = tmp_path / "s.yaml"
    scenario.write_text(yaml.safe_dump(scenario_dict()))
    result = CliRunner().invoke(cli, ["calibrate", str(tmp_path / "nope.csv"), "-o",
                                      str(tmp_path / "o.yaml")])
    assert result.exit_code == 2 and "log file not found" in result.output
    log = tmp_path / "ok.csv"
    log.write_text(GOOD_HEADER + GOOD_ROWS)
    result = CliRunner().invoke(cli, ["validate", str(scenario), str(log), "--warmup", "soon"])
    assert result.exit_code == 2 and "--warmup" in result.output
    result = CliRunner().invoke(cli, ["validate", str(scenario), str(log), "--warmup", "5s"])
    assert result.exit_code == 2 and "no answered request after the warm-up" in result.output


def test_validate_prints_a_table_and_exits_0_however_large_the_errors(tmp_path):
    log = synthetic_log(tmp_path / "log.csv", known_scenario(duration=10.0))
    slow = scenario_dict(service={"base": "50ms", "distribution": "deterministic"})
    scenario = tmp_path / "slow.yaml"
    scenario.write_text(yaml.safe_dump(slow))
    result = CliRunner().invoke(cli, ["validate", str(scenario), str(log), "--arrivals", "rate"])
    assert result.exit_code == 0, result.output
    for key in ("p50", "p90", "p95", "p99", "mean", "measured", "predicted", "error"):
        assert key in result.output
    assert "+" in result.output  # errors of several hundred percent, still exit 0


def test_a_saturated_log_earns_a_warning_and_a_stable_one_none(tmp_path):
    stable = synthetic_log(tmp_path / "stable.csv", known_scenario(duration=10.0))
    _, notes = calibrate_logs([stable], tmp_path / "a.yaml")
    assert not any("saturated" in n for n in notes)
    overloaded = synthetic_log(tmp_path / "over.csv", known_scenario(duration=10.0, rate=4000))
    _, notes = calibrate_logs([overloaded], tmp_path / "b.yaml")
    assert any("over.csv" in n and "saturated" in n for n in notes)


def test_calibration_recovers_the_noise_correlation(tmp_path):
    scenario = known_scenario(duration=40.0).with_overrides({"service.noise_correlation": 0.5})
    log = synthetic_log(tmp_path / "log.csv", scenario)
    fit, _ = calibrate_logs([log], tmp_path / "fitted.yaml")
    assert fit.noise_correlation == pytest.approx(0.5, abs=0.05)
    service = yaml.safe_load((tmp_path / "fitted.yaml").read_text())["service"]
    assert service["noise_correlation"] == pytest.approx(0.5, abs=0.05)
    independent = synthetic_log(tmp_path / "iid.csv", known_scenario(duration=40.0))
    assert calibrate_logs([independent], tmp_path / "iid.yaml")[0].noise_correlation < 0.05


def test_calibration_recovers_the_servers_wakeup(tmp_path):
    wakeup = {"mean": "300us", "distribution": "lognormal", "cv": 0.5}
    scenario = known_scenario(duration=40.0, rate=200.0).with_overrides(
        {"servers.wakeup": wakeup})
    log = synthetic_log(tmp_path / "log.csv", scenario)
    fit, _ = calibrate_logs([log], tmp_path / "fitted.yaml")
    fitted = yaml.safe_load((tmp_path / "fitted.yaml").read_text())["servers"]["wakeup"]
    assert fit.wakeups_s.size > 3000
    assert seconds(fitted["mean"]) == pytest.approx(300e-6, rel=0.05)
    assert fitted["cv"] == pytest.approx(0.5, rel=0.25)


def test_calibration_recovers_the_idle_penalty_and_the_warm_table(tmp_path):
    penalty = {"max": "400us", "time_constant": "3ms"}
    scenario = known_scenario(duration=40.0, rate=200.0).with_overrides(
        {"servers.idle_penalty": penalty})
    log = synthetic_log(tmp_path / "log.csv", scenario)
    fit, notes = calibrate_logs([log], tmp_path / "fitted.yaml")
    fitted = yaml.safe_load((tmp_path / "fitted.yaml").read_text())
    assert seconds(fitted["servers"]["idle_penalty"]["max"]) == pytest.approx(400e-6, rel=0.15)
    assert seconds(fitted["servers"]["idle_penalty"]["time_constant"]) == pytest.approx(3e-3, rel=0.3)
    n = int((fit.sizes == 1).sum())
    # with the penalty taken off, the table describes the warm server batchsim ran
    assert abs(seconds(fitted["service"]["table"][1]["mean"]) - 1.25e-3) < 4 * 0.2 * 1.25e-3 / math.sqrt(n)
    assert any("idle penalty: a batch after t idle" in note for note in notes)
    # and a server without one gets none
    plain = synthetic_log(tmp_path / "plain.csv", known_scenario(duration=40.0, rate=200.0))
    fit, notes = calibrate_logs([plain], tmp_path / "plain.yaml")
    assert fit.idle_penalty is None and "idle penalty: none measurable" in notes
    assert "servers" not in yaml.safe_load((tmp_path / "plain.yaml").read_text())


def test_a_rarely_seen_size_is_not_made_slow_by_two_stalls():
    from simulator.realserver.service_fit import service_table

    rng = np.random.default_rng(1)
    sizes = np.r_[np.full(400, 4), np.full(14, 32)]
    times = np.r_[2e-3 * rng.lognormal(0, 0.1, 400), 6e-3 * rng.lognormal(0, 0.1, 14)]
    times[-3:-1] = 23e-3  # two stalls: the process descheduled for ~17 ms
    table, _ = service_table(sizes, times, 32)
    assert table[32]["mean"] == pytest.approx(6e-3, rel=0.1)  # not the sample mean, 8.4 ms
    assert table[32]["cv"] < 0.25                             # not the sample cv, 0.8
    assert table[4]["mean"] == pytest.approx(times[:400].mean(), rel=1e-5)  # its own mean


def test_extrapolation_follows_the_sizes_aligned_with_the_target():
    from simulator.realserver.service_fit import service_table

    sizes = np.repeat(np.arange(1, 20), 60)
    # tiles of 4: sizes that are not multiples of 4 pay 1 ms more
    times = 1e-3 + 0.1e-3 * sizes + 1e-3 * (sizes % 4 != 0)
    table, notes = service_table(sizes, times, 32)
    assert table[32]["mean"] == pytest.approx(1e-3 + 3.2e-3)
    assert "through the sizes 8, 16" in notes[0]


def test_calibration_finds_stalls_and_keeps_them_out_of_the_table(tmp_path):
    stalls = {"every": "200ms", "duration": "10ms"}
    scenario = known_scenario(duration=40.0).with_overrides({"servers.stalls": stalls})
    log = synthetic_log(tmp_path / "log.csv", scenario)
    fit, notes = calibrate_logs([log], tmp_path / "fitted.yaml")
    fitted = yaml.safe_load((tmp_path / "fitted.yaml").read_text())
    found = fitted["servers"]["stalls"]
    assert seconds(found["every"]) == pytest.approx(0.2, rel=0.25)
    assert seconds(found["duration"]["mean"]) == pytest.approx(0.010, rel=0.1)
    assert any(note.startswith("stalls: ") and "busy time" in note for note in notes)
    # the table describes the batches without their stalls (known: 1 ms + 0.25 ms/request)
    assert seconds(fitted["service"]["table"][2]["mean"]) == pytest.approx(1.5e-3, rel=0.05)
    # a noisy server without stalls has none: slow batches are not stalls
    noisy = known_scenario(duration=40.0).with_overrides({"service.table": {
        k: {"mean": 1e-3 + 0.25e-3 * k, "cv": 0.6} for k in SIZES}})
    fit, _ = calibrate_logs([synthetic_log(tmp_path / "noisy.csv", noisy)],
                            tmp_path / "noisy.yaml")
    assert fit.stalls is None
