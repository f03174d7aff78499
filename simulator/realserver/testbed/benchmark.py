"""`python -m simulator.testbed.benchmark`: does batchsim predict the real server?

    python -m simulator.testbed.benchmark [--out results/testbed-benchmark] [--quick]
    python -m simulator.testbed.benchmark --out DIR --from-logs   # re-analyse saved logs

1. Times the model per batch size (a subprocess with one BLAS thread) to
   estimate the capacity of a setting = max batch / time of a full batch.
2. Measures a round of calibration logs: light load (15% of that estimate, max
   batch 8, delay 0) and medium load (60%, max batch 32, delay 2 ms; the
   estimate first scaled by how much slower the server ran than the hot loop),
   and calibrates on them to place the test loads: 25%, 50% and 70% of each
   setting's calibrated capacity (the best k / mean(k) over the measured sizes
   k up to the setting's maximum), capped by --max-rate.
3. Runs the real server for every test point (8 / 0 and 32 / 2 ms at the three
   loads), three rounds of one repeat each with the same arrival schedule,
   each round followed by another round of calibration logs. Spreading the
   repeats and the calibration over the whole benchmark matters on a machine
   whose speed wanders (a VM here: the same batch runs 2.1 ms or 2.8 ms for
   spells of seconds to a minute): the repeats' spread is then the server's
   run-to-run noise over the time the benchmark takes, and calibration and
   tests see the same mix of fast and slow spells.
4. Calibrates on every calibration log (lognormal table and empirical
   samples) and predicts each point by replaying its arrival schedule
   (`batchsim validate`'s prediction); writes `benchmark.md` and
   `benchmark.json`: measured p50/p95/p99 (mean of the repeats), noise
   (sample std / mean of the repeats), predicted, relative error, and whether
   |error| <= max(15%, 2 x noise).

About 4 minutes of wall time; meant for a quiet machine (other processes' load
shows up as server noise and as overheads the calibration logs did not see).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from ...model.scenario import Scenario
from ..calibration import calibrate_logs
from ..measure import batches_of, idle_before_s, penalty_s
from ..servelog import ServeLog, read_log
from ..service_fit import MIN_SAMPLES, delay_section
from ..validation import measured_latency_s, predict
from .model import BLAS_THREAD_VARIABLES, DEFAULT_HIDDEN
from .run import run_testbed

SETTINGS = {"b8-d0": (8, 0.0), "b32-d2ms": (32, 0.002)}
CALIBRATION = {"light": ("b8-d0", 0.15), "medium": ("b32-d2ms", 0.60)}
"""Fractions of the capacity estimate: hot-loop model times plus a turnaround, for the
medium log scaled by how much slower the server ran batches of 1 in the light log."""
TEST_LOADS = (0.25, 0.50, 0.70)
STATS = ("p50", "p95", "p99")
TARGET = 0.15
REPEATS = 3
WARMUP_S = 1.0
TURNAROUND_GUESS_S = 150e-6
QUIET_LOAD = 0.5


def model_times_s(hidden: int, sizes: list[int]) -> dict[int, float]:
    """Median model time per batch size, timed in a subprocess with one BLAS thread."""
    code = ("import json,sys,time;from simulator.realserver.testbed.model import MLP;"
            f"m=MLP({hidden},{max(sizes)});out={{}}\n"
            f"for k in {sizes}:\n"
            " [m.forward(k) for _ in range(10)];ts=[]\n"
            " for _ in range(40):\n"
            "  t=time.perf_counter();m.forward(k);ts.append(time.perf_counter()-t)\n"
            " out[k]=sorted(ts)[len(ts)//2]\n"
            "print(json.dumps(out))")
    env = {**os.environ, **dict.fromkeys(BLAS_THREAD_VARIABLES, "1")}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, check=True)
    return {int(k): v for k, v in json.loads(done.stdout).items()}


def capacities_rps(times_s: dict[int, float], slowdown: float = 1.0) -> dict[str, float]:
    """Capacity estimate per setting from hot-loop model times, `slowdown` times slower."""
    return {name: size / (times_s[size] * slowdown + TURNAROUND_GUESS_S)
            for name, (size, _) in SETTINGS.items()}


def server_slowdown(log_path: Path, hot_batch1_s: float) -> float:
    """How much slower batches of 1 ran in the server than in the hot loop (>= 1)."""
    start, finish, size = read_log(log_path).batches()
    ones = (finish - start)[size == 1]
    return max(float(np.median(ones)) / hot_batch1_s, 1.0) if ones.size else 1.0


def calibrated_capacity_rps(scenario: Scenario, fit) -> dict[str, float]:
    """Per setting: the best throughput k / mean(k) over the batch sizes k <= its maximum
    that the calibration logs measured (an extrapolated mean(max) is too uncertain)."""
    sizes, counts = np.unique(fit.sizes, return_counts=True)
    measured = sizes[counts >= MIN_SAMPLES]
    service = scenario.service
    return {name: max(int(k) / service.mean_s(int(k)) for k in measured if k <= size)
            for name, (size, _) in SETTINGS.items()}


def measure(folder: Path, name: str, setting: str, rate_rps: float, duration_s: float,
            seed: int, hidden: int, pin: bool) -> Path:
    size, delay_s = SETTINGS[setting]
    return run_testbed(rate_rps, size, delay_s, duration_s, folder / f"{name}.csv", seed,
                       hidden, pin)


def service_drift(scenario: Scenario, logs, fit) -> float:
    """Mean over the repeats' batches of (model time + turnaround) / what the calibration
    expects of it (its size's mean, plus the idle penalty): above 1 when the server ran
    slower than when it was calibrated."""
    ratios = []
    for log in logs:
        start, finish, size, from_idle, _ = batches_of(log)
        expected = np.array([scenario.service.mean_s(int(k)) for k in size])
        if fit.idle_penalty is not None:
            idle = idle_before_s(start, finish, from_idle, fit.turnaround_s)
            expected = expected + penalty_s(fit.idle_penalty, idle)
        ratios.append((finish - start + fit.turnaround_s) / expected)
    return float(np.mean(np.concatenate(ratios)))


def from_sent(log: ServeLog) -> ServeLog:
    """The log as if each request had been scheduled when the client actually sent it."""
    return ServeLog(log.path, {**log.columns, "scheduled_s": log["sent_s"]}, log.settings)


def server_only_scenario(scenario: Scenario, fit) -> Scenario | None:
    """`scenario` with `before` = send -> arrival only (the client's lateness left out)."""
    if fit.network_s is None:
        return None
    before = delay_section(fit.network_s)
    data = scenario.to_dict()
    data["service"].setdefault("overhead", {}).pop("before", None)
    if before:
        data["service"]["overhead"]["before"] = before
    return Scenario.from_dict(data, source=f"{scenario.name} (server only)")


def point(scenario: Scenario, logs: list, replications: int, fit, sent: bool = False) -> dict:
    """Measured statistics of the repeats, their noise, and the prediction of the first.
    With `sent`, latency counts from the client's actual send on both sides."""
    parsed = [read_log(path) for path in logs]
    if sent:
        parsed = [from_sent(log) for log in parsed]
    measured = []
    for log in parsed:
        latency_s, _ = measured_latency_s(log, WARMUP_S)
        measured.append({k: float(np.percentile(latency_s, int(k[1:]))) for k in STATS})
    prediction = predict(scenario, parsed[0], WARMUP_S, "trace", replications)
    row = {"rate_rps": parsed[0].arrival_rate_rps(), "statistics": {},
           "service_drift": service_drift(scenario, parsed, fit)}
    for k in STATS:
        values = np.array([m[k] for m in measured])
        mean = float(values.mean())
        noise = float(values.std(ddof=1) / mean) if values.size > 1 else 0.0
        predicted = prediction.predicted_s[k]
        error = (predicted - mean) / mean
        row["statistics"][k] = {"measured_s": mean, "repeats_s": values.tolist(),
                                "noise": noise, "predicted_s": predicted, "error": error,
                                "within": abs(error) <= max(TARGET, 2 * noise)}
    return row


def measure_all(out: Path, duration_s: float, calibration_s: float, max_rate: float,
                hidden: int, pin: bool) -> tuple[dict, dict]:
    """Run the real server, interleaved in time so that a machine whose speed wanders
    (spells of seconds to minutes) weighs on calibration and tests alike: a round of
    calibration logs, then each round of test repeats (every point once) followed by
    another round of calibration logs. Returns {name: [calibration logs]} and
    {(setting, load): [repeat logs]}."""
    times_s = model_times_s(hidden, sorted({1, *(size for size, _ in SETTINGS.values())}))
    capacity = capacities_rps(times_s)
    print(f"capacity estimates: {', '.join(f'{k} {v:.0f} req/s' for k, v in capacity.items())}",
          flush=True)
    calibration = {name: [] for name in CALIBRATION}
    rates = {}
    for name, (setting, load) in CALIBRATION.items():
        if rates:  # the light log shows how much slower the server runs
            slowdown = server_slowdown(calibration["light"][0], times_s[1])
            capacity = capacities_rps(times_s, slowdown)
            print(f"server {slowdown:.2f}x slower than the hot loop: capacity estimates "
                  f"{', '.join(f'{k} {v:.0f} req/s' for k, v in capacity.items())}", flush=True)
        rates[name] = min(load * capacity[setting], max_rate)
        print(f"calibration log {name}: {setting} at {rates[name]:.0f} req/s", flush=True)
        calibration[name].append(_calibration_log(out, name, 0, rates, calibration_s, hidden,
                                                  pin))
    capacity = calibrate(out, sum(calibration.values(), []))[2]  # places the test loads
    points = [(setting, load, min(load * capacity[setting], max_rate))
              for setting in SETTINGS for load in TEST_LOADS]
    tests = {(setting, load): [] for setting, load, _ in points}
    for r in range(REPEATS):
        for setting, load, rate in points:
            print(f"test {setting} at {rate:.0f} req/s ({load:.0%}), repeat {r + 1} of "
                  f"{REPEATS}", flush=True)
            tests[setting, load].append(measure(out, f"{setting}-{int(load * 100)}-r{r}",
                                                setting, rate, duration_s, 7, hidden, pin))
        for name in CALIBRATION:
            calibration[name].append(_calibration_log(out, name, r + 1, rates, calibration_s,
                                                      hidden, pin))
    return calibration, tests


def _calibration_log(out: Path, name: str, round_: int, rates: dict, duration_s: float,
                     hidden: int, pin: bool) -> Path:
    return measure(out, f"calibration-{name}-c{round_}", CALIBRATION[name][0], rates[name],
                   duration_s, 100, hidden, pin)


def saved_logs(out: Path) -> tuple[dict, dict]:
    """The logs a previous benchmark wrote in `out` (for re-analysis with a newer model)."""
    calibration = {name: sorted(out.glob(f"calibration-{name}-c*.csv"), key=_round_of)
                   for name in CALIBRATION}
    tests = {(setting, load): [out / f"{setting}-{int(load * 100)}-r{r}.csv"
                               for r in range(REPEATS)]
             for setting in SETTINGS for load in TEST_LOADS}
    missing = [p for p in sum(tests.values(), []) if not p.exists()]
    missing += [out / f"calibration-{name}-c0.csv" for name, logs in calibration.items()
                if not logs]
    if missing:
        raise SystemExit(f"error: {missing[0]}: no such log (run the benchmark first)")
    return calibration, tests


def _round_of(path: Path) -> int:
    return int(path.stem.rsplit("-c", 1)[1])


def calibrate(out: Path, calibration_logs: list[Path]):
    """Fit both scenario variants; returns the scenarios, the fit and the capacities."""
    scenarios = {}
    for variant, empirical in (("lognormal", False), ("empirical", True)):
        path = out / f"calibrated-{variant}.yaml"
        fit, notes = calibrate_logs(calibration_logs, path, empirical,
                                    max(s for s, _ in SETTINGS.values()))
        scenarios[variant] = Scenario.from_yaml(path)
    print("\n".join(notes), flush=True)
    capacity = calibrated_capacity_rps(scenarios["lognormal"], fit)
    print(f"calibrated capacity: {', '.join(f'{k} {v:.0f} req/s' for k, v in capacity.items())}",
          flush=True)
    return scenarios, fit, capacity


def analyse(out: Path, calibration: dict, tests: dict, replications: int) -> dict:
    """Calibrate on every calibration log and predict every test point (and, in sample,
    the calibration logs themselves)."""
    logs = sum(calibration.values(), [])
    scenarios, fit, capacity = calibrate(out, logs)
    server_only = server_only_scenario(scenarios["lognormal"], fit)
    points = [(CALIBRATION[name][0], f"calibration {name}", repeats, True)
              for name, repeats in calibration.items()]
    points += [(setting, load, repeats, False) for (setting, load), repeats in tests.items()]
    rows = []
    for setting, load, repeats, in_sample in points:
        row = {"setting": setting, "load": load, "in_sample": in_sample}
        for variant, scenario in scenarios.items():
            row[variant] = point(scenario, repeats, replications, fit)
        if server_only is not None:
            row["server_only"] = point(server_only, repeats, replications, fit, sent=True)
        rows.append(row)
    return {"capacity_rps": capacity, "calibration": [str(p) for p in logs],
            "wakeup_s": fit.wakeup_s, "turnaround_s": fit.turnaround_s,
            "idle_penalty": fit.idle_penalty, "rows": rows}


def run_benchmark(out: Path, duration_s: float, calibration_s: float, max_rate: float,
                  hidden: int, pin: bool, replications: int, from_logs: bool = False) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    load_before = os.getloadavg()
    if from_logs:
        calibration, tests = saved_logs(out)
    else:
        if load_before[0] > QUIET_LOAD:
            print(f"warning: load average {load_before[0]:.2f}: other processes will show up "
                  "as server noise and as overheads the calibration did not see", flush=True)
        calibration, tests = measure_all(out, duration_s, calibration_s, max_rate, hidden,
                                         pin)
    report = {"command": " ".join(["python -m simulator.testbed.benchmark", *sys.argv[1:]]),
              **analyse(out, calibration, tests, replications),
              "target": TARGET, "repeats": REPEATS, "duration_s": duration_s,
              "wall_s": time.perf_counter() - started, "load_average_before": load_before,
              "load_average": os.getloadavg()}
    (out / "benchmark.json").write_text(json.dumps(report, indent=2))
    (out / "benchmark.md").write_text(render(report))
    return report


def render(report: dict) -> str:
    lines = ["# Real server vs batchsim prediction", "",
             f"`{report['command']}`; {report['repeats']} repeats of {report['duration_s']:g}s "
             f"per point, wall {report['wall_s']:.0f}s, load average (1 min) before "
             f"{report['load_average_before'][0]:.2f}, after {report['load_average'][0]:.2f}. "
             f"Calibrated on {len(report['calibration'])} logs"
             f" (wake-up {report['wakeup_s'] * 1e6:.0f} us, turnaround "
             f"{report['turnaround_s'] * 1e6:.0f} us, {_penalty_text(report)}).", "",
             "Error = (predicted - mean of repeats) / mean of repeats; noise = sample std / mean"
             " of the repeats; ok = |error| <= max(15%, 2 x noise); drift = mean of batch time"
             " / calibrated mean for its size (above 1: the server ran slower than when it was"
             " calibrated); server-only = the same prediction and measurement with latency"
             " counted from the client's actual sends (replayed) instead of the schedule, so"
             " client stalls are left out on both sides.", "",
             "| setting | load | rate | drift | stat | measured ms | noise | lognormal ms | error "
             "| ok | empirical ms | error | ok | server-only error |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    passed = close = total = 0
    for row in report["rows"]:
        load = row["load"] if isinstance(row["load"], str) else f"{row['load']:.0%}"
        for k in STATS:
            log_stat = row["lognormal"]["statistics"][k]
            emp_stat = row["empirical"]["statistics"][k]
            lines.append(
                f"| {row['setting']} | {load} | {row['lognormal']['rate_rps']:.0f} "
                f"| {row['lognormal'].get('service_drift', float('nan')):.2f} | {k} | {log_stat['measured_s'] * 1e3:.3f} | {log_stat['noise']:.1%} "
                f"| {log_stat['predicted_s'] * 1e3:.3f} | {log_stat['error']:+.1%} "
                f"| {'yes' if log_stat['within'] else 'no'} "
                f"| {emp_stat['predicted_s'] * 1e3:.3f} | {emp_stat['error']:+.1%} "
                f"| {'yes' if emp_stat['within'] else 'no'} "
                f"| {_error_cell(row.get('server_only'), k)} |")
            if not row.get("in_sample"):
                passed += log_stat["within"]
                close += abs(log_stat["error"]) <= TARGET
                total += 1
    lines += ["", "Calibration rows are in-sample (the logs the scenario was fitted to, one per "
              "calibration round); the others are predictions.",
              f"lognormal calibration: {passed}/{total} predicted statistics within target "
              f"(|error| <= max(15%, 2 x noise)); {close}/{total} within 15%.", ""]
    return "\n".join(lines)


def _penalty_text(report: dict) -> str:
    penalty = report.get("idle_penalty")
    if not penalty:
        return "no idle penalty"
    return f"idle penalty {penalty[0] * 1e6:.0f} us, time constant {penalty[1] * 1e3:.3g} ms"


def _error_cell(result: dict | None, key: str) -> str:
    return "" if result is None else f"{result['statistics'][key]['error']:+.1%}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m simulator.testbed.benchmark",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/testbed-benchmark"))
    parser.add_argument("--duration", type=float, default=6.0, help="seconds per test run")
    parser.add_argument("--calibration-duration", type=float, default=4.0,
                        help="seconds per calibration log (one light and one medium in "
                             "each of the repeats + 1 calibration rounds)")
    parser.add_argument("--max-rate", type=float, default=4000.0,
                        help="cap on the offered rate (the Python client's limit)")
    parser.add_argument("--hidden", type=int, default=DEFAULT_HIDDEN)
    parser.add_argument("--replications", type=int, default=5)
    parser.add_argument("--pin-cpus", action="store_true")
    parser.add_argument("--from-logs", action="store_true",
                        help="re-analyse the logs a previous run left in --out (no new "
                             "measurement): calibrate again and predict again")
    parser.add_argument("--quick", action="store_true",
                        help="2 s runs (a smoke test of the pipeline, not a measurement)")
    args = parser.parse_args(argv)
    duration = 2.0 if args.quick else args.duration
    calibration = 2.0 if args.quick else args.calibration_duration
    report = run_benchmark(args.out, duration, calibration, args.max_rate, args.hidden,
                           args.pin_cpus, args.replications, args.from_logs)
    print(render(report))
    print(f"written: {args.out / 'benchmark.md'} and {args.out / 'benchmark.json'}")


if __name__ == "__main__":
    main()
