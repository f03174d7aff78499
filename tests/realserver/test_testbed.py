"""The testbed server: its log format, and its batcher audited against the dynamic rule."""

import math
from types import SimpleNamespace

import numpy as np
import pytest
from click.testing import CliRunner

from simulator.cli import cli
from simulator.model.scenario import Scenario
from simulator.realserver.servelog import COLUMNS, read_log, write_log
from simulator.realserver.simlog import log_columns
from simulator.realserver.testbed.loadgen import ClientStamps, poisson_schedule_ns
from simulator.realserver.testbed.rules import audit
from simulator.realserver.testbed.run import merge_stamps, run_testbed
from simulator.sim import simulate

from conftest import scenario_dict


def simulated_log(tmp_path, max_batch_size=4, delay="1ms", rate=800.0):
    scenario = Scenario.model_validate(scenario_dict(
        run={"duration": 10.0, "replications": 1}, arrival={"process": "poisson", "rate": rate},
        batching={"policy": "dynamic", "max_batch_size": max_batch_size,
                  "max_queue_delay": delay},
        service={"base": "1ms", "per_item": "0.3ms", "distribution": "gamma", "cv": 0.3}))
    path = tmp_path / "sim.csv"
    write_log(path, log_columns(simulate(scenario, 0)), {})
    return read_log(path)


def test_the_audit_passes_batchsims_own_dynamic_batcher(tmp_path):
    result = audit(simulated_log(tmp_path), 4, 1e-3)
    assert result.too_large == 0 and result.early == 0
    assert result.lateness_s.size > 1000
    assert np.abs(result.lateness_s).max() < 1e-9


def test_the_audit_catches_batches_cut_early_held_or_too_large(tmp_path):
    log = simulated_log(tmp_path)
    assert audit(log, 3, 1e-3).too_large > 0
    # with a longer delay than the batcher used, its partial batches were cut early
    assert audit(log, 4, 5e-3).early > 0
    # with a shorter one, they were held past it
    assert audit(log, 4, 0.5e-3).lateness_s.max() > 0.4e-3


def test_poisson_schedule_has_the_requested_rate_and_starts_after_start():
    schedule = poisson_schedule_ns(2000.0, 10.0, seed=4, start_ns=10**9)
    gaps = np.diff(schedule) / 1e9
    assert schedule[0] >= 10**9 and np.all(gaps >= 0)
    # 20000 exponential gaps: mean 0.5 ms within 4 standard errors, cv near 1
    assert abs(gaps.mean() - 5e-4) < 4 * 5e-4 / np.sqrt(gaps.size)
    assert abs(gaps.std() / gaps.mean() - 1) < 0.05


def test_merged_stamps_make_a_well_formed_log(tmp_path):
    scheduled = np.array([1_000, 2_000, 3_000, 9_000], dtype=np.int64)
    client = ClientStamps(scheduled, scheduled + 10, np.array([1_300, 2_500, 2_600, -1]))
    server = {"req_id": np.array([0, 1, 2]), "req_batch": np.array([0, 1, 1]),
              "req_arrival_ns": np.array([1_020, 2_020, 3_020]),
              "req_enqueue_ns": np.array([1_030, 2_030, 3_030]),
              "req_idle": np.array([1, 1, 0]), "batch_size": np.array([1, 2]),
              "batch_start_ns": np.array([1_040, 2_040]) + 0,
              "batch_finish_ns": np.array([1_200, 2_400])}
    server["req_enqueue_ns"][2] = 2_030  # read with request 1
    server["req_arrival_ns"][2] = 2_025
    client.scheduled_ns[2] = 2_001
    client.sent_ns[2] = 2_011
    columns = merge_stamps(client, server, origin_ns=0)
    path = tmp_path / "log.csv"
    write_log(path, columns, {"max_batch_size": 2, "max_queue_delay_s": 0})
    log = read_log(path)
    assert list(log.columns) == [c for c in COLUMNS]
    assert log.answered.tolist() == [True, True, True, False]
    assert log["batch_size"].tolist() == [1, 2, 2, -1]
    assert log["received_s"][1] == pytest.approx(2.5e-6)
    assert log.setting("max_batch_size", int) == 2


@pytest.mark.realserver
def test_a_short_real_server_run(tmp_path):
    """A few seconds of the real server: the log is well formed and the batcher obeys
    the dynamic rule (none above the maximum, none early, none held for long)."""
    path = run_testbed(300.0, 4, 1e-3, 2.5, tmp_path / "real.csv", seed=5, hidden=512)
    log = read_log(path)  # the reader refuses stamps out of causal order
    assert log.answered.all() and log["scheduled_s"].size > 400
    assert set(np.unique(log["idle_arrival"])) <= {0, 1}
    result = audit(log, 4, 1e-3)
    assert result.too_large == 0 and result.early == 0
    # held = started after the batch was due with the worker free; wake-ups cost
    # a little, a loaded machine more, a broken batcher whole delays or seconds
    assert np.mean(result.lateness_s > 2e-3) < 0.05
    assert result.lateness_s.max() < 0.1
    out = tmp_path / "fitted.yaml"
    calibrated = CliRunner().invoke(cli, ["calibrate", str(path), "-o", str(out)])
    assert calibrated.exit_code == 0, calibrated.output
    validated = CliRunner().invoke(cli, ["validate", str(out), str(path), "--warmup", "0.5s"])
    assert validated.exit_code == 0, validated.output


def test_benchmark_point_and_table_arithmetic(tmp_path):
    from simulator.realserver.testbed.benchmark import point, render
    from simulator.realserver.validation import measured_latency_s

    scenario = Scenario.model_validate(scenario_dict(
        run={"duration": 8.0, "replications": 1}, arrival={"process": "poisson", "rate": 400},
        batching={"policy": "dynamic", "max_batch_size": 4, "max_queue_delay": 0},
        service={"base": "1ms", "per_item": "0.3ms", "distribution": "gamma", "cv": 0.3}))
    logs = []
    for seed in (1, 2, 3):
        path = tmp_path / f"r{seed}.csv"
        write_log(path, log_columns(simulate(scenario.with_overrides({"seed": seed}), 0)),
                  {"max_batch_size": 4, "max_queue_delay_s": 0})
        logs.append(path)
    fit = SimpleNamespace(turnaround_s=0.0, idle_penalty=None)
    row = point(scenario, logs, replications=2, fit=fit)
    p95 = [np.percentile(measured_latency_s(read_log(p), 1.0)[0], 95) for p in logs]
    stat = row["statistics"]["p95"]
    assert stat["measured_s"] == pytest.approx(np.mean(p95))
    assert stat["noise"] == pytest.approx(np.std(p95, ddof=1) / np.mean(p95))
    assert stat["error"] == pytest.approx((stat["predicted_s"] - np.mean(p95)) / np.mean(p95))
    assert stat["within"] == (abs(stat["error"]) <= max(0.15, 2 * stat["noise"]))
    assert abs(row["statistics"]["p50"]["error"]) < 0.15  # the true model predicts itself
    assert row["service_drift"] == pytest.approx(1.0, abs=0.03)  # and its own batch times
    # counted from the client's sends: a simulated client sends exactly on schedule
    sent_row = point(scenario, logs, replications=2, fit=fit, sent=True)
    assert sent_row["statistics"]["p95"]["measured_s"] == pytest.approx(stat["measured_s"])
    report = {"command": "x", "repeats": 3, "duration_s": 8, "wall_s": 1,
              "load_average_before": [0, 0, 0], "load_average": [0, 0, 0],
              "calibration": ["a", "b"], "wakeup_s": 0, "turnaround_s": 0,
              "rows": [{"setting": "b4", "load": 0.25, "lognormal": row, "empirical": row}]}
    text = render(report)
    assert "| b4 | 25% |" in text and f"{stat['error']:+.1%}" in text


def _trace_scenario(tmp_path, times, **sections):
    trace = tmp_path / "t.csv"
    trace.write_text("t\n" + "\n".join(map(str, times)) + "\n")
    data = {"name": "w", "run": {"requests": len(times), "replications": 1},
            "arrival": {"process": "trace", "path": str(trace), "column": "t"},
            "batching": {"policy": "dynamic", "max_batch_size": 8, "max_queue_delay": 0},
            "service": {"base": "1ms", "distribution": "deterministic"}, **sections}
    return Scenario.from_dict(data, base_dir=tmp_path)


def test_an_idle_server_wakes_up_and_a_busy_one_goes_on_at_once(tmp_path):
    scenario = _trace_scenario(tmp_path, [0, 0.0005, 0.0012, 0.010, 0.030],
                               servers={"wakeup": "1ms"})
    record = simulate(scenario, 0)
    # 0 and 0.5 ms arrive while the idle server wakes (until 1 ms): one batch of 2;
    # 1.2 ms waits for it and starts when it finishes (2 ms), no wake-up; 10 ms wakes again
    assert record.batch_start_s.tolist() == pytest.approx([0.001, 0.002, 0.011])
    assert record.batch_size.tolist() == [2, 1, 1]
    plain = simulate(_trace_scenario(tmp_path, [0, 0.0005, 0.0012, 0.010, 0.030]), 0)
    assert plain.batch_start_s.tolist() == pytest.approx([0.0, 0.001, 0.002, 0.010])


def test_wakeup_behind_replicas_wakes_each_idle_replica(tmp_path):
    # round robin: 0 and 0.5 ms go to replicas 0 and 1, each idle, each waking 1 ms
    scenario = _trace_scenario(tmp_path, [0, 0.0005, 0.030], servers={"wakeup": "1ms"},
                               replicas={"count": 2})
    record = simulate(scenario, 0)
    assert record.batch_start_s.tolist() == pytest.approx([0.001, 0.0015])
    assert record.batch_replica.tolist() == [0, 1]


def test_a_batch_after_idle_pays_the_idle_penalty(tmp_path):
    penalty = {"max": "1ms", "time_constant": "5ms"}
    times = [0.0, 0.0005, 0.030, 0.035, 0.100]  # a trace starts at 0; the last ends the run
    record = simulate(_trace_scenario(tmp_path, times, servers={"idle_penalty": penalty}), 0)
    # the first batch finds a server that has not idled; the second request waits for it and
    # starts at once (no penalty); 30 ms comes after 28 ms idle, 35 ms after ~3 ms
    third = 0.001 + 0.001 * -math.expm1(-(0.030 - 0.002) / 0.005)
    fourth = 0.001 + 0.001 * -math.expm1(-(0.035 - 0.030 - third) / 0.005)
    assert record.batch_start_s.tolist() == pytest.approx([0.0, 0.001, 0.030, 0.035])
    durations = record.batch_finish_s - record.batch_start_s
    assert durations.tolist() == pytest.approx([0.001, 0.001, third, fourth])


def test_stalls_lengthen_busy_batches_by_poisson_theory(tmp_path):
    # batches of one (1 ms) at 300 req/s; stalls every 20 ms of 2 ms each. A batch of
    # length S is struck by rate r stalls while it lasts, each lengthening it by D:
    # E[extra] = r S D / (1 - r D) (memoryless: stalls while idle do not matter)
    data = {"name": "s", "seed": 4, "run": {"duration": 60.0, "replications": 1},
            "arrival": {"process": "poisson", "rate": 300},
            "batching": {"policy": "dynamic", "max_batch_size": 1, "max_queue_delay": 0},
            "service": {"base": "1ms", "distribution": "deterministic"},
            "servers": {"stalls": {"every": "20ms", "duration": "2ms"}}}
    record = simulate(Scenario.from_dict(data), 0)
    extra_s = record.batch_finish_s - record.batch_start_s - 0.001
    done = ~np.isnan(extra_s)
    r, s, d = 50.0, 0.001, 0.002
    expected = r * s * d / (1 - r * d)
    assert np.allclose(extra_s[done] / d, np.round(extra_s[done] / d), atol=1e-6)  # whole
    standard_error = extra_s[done].std() / np.sqrt(done.sum())
    assert abs(extra_s[done].mean() - expected) < 4 * standard_error
    assert extra_s[done].mean() > 0.5 * expected  # not zero: the process is on


def test_stalls_longer_than_their_interval_are_refused(tmp_path):
    from simulator.model.errors import ScenarioError

    with pytest.raises(ScenarioError, match="servers.stalls.duration.*never finish"):
        _trace_scenario(tmp_path, [0, 1], servers={"stalls": {"every": "2ms",
                                                              "duration": "3ms"}})
