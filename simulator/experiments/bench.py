"""The speed benchmark: `python -m simulator.bench` or `batchsim bench`.

The standard case: Poisson 1000 req/s into Triton-style `dynamic` batching (max 16,
5 ms delay), 2 ms + 0.5 ms/item deterministic service, 1 server, 1,000,000
requests, one replication. Reported, each with issue 12's target:
(a) `simulate()` in this process, requests per wall-second (and with the summary);
(b) `batchsim run` of the standard case in a fresh process, start-up and the written
    run folder included (median of --repeat runs), and that process's peak memory;
(c) the obvious SimPy model of the same case (a process per request, a Store and a
    Resource; `obvious_model.py`) on fewer requests, whether it cuts the same batches,
    and how many times faster (a) and (b) are;
(d) `batchsim run` of 4 replicas behind join_shortest_queue at 4000 req/s.
The fresh processes run as an installed package does: bytecode cached (an untimed
small run writes it first) and their output discarded.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ..analysis.metrics import summarize
from ..model.scenario import Scenario
from ..sim import simulate

TARGET_END_TO_END_RPS = 1_000_000
TARGET_REPLICAS_RPS = 500_000
TARGET_PEAK_MB = 100


def standard_scenario(n_requests: int = 1_000_000) -> Scenario:
    return Scenario.model_validate({
        "name": "bench-standard",
        "seed": 1,
        "run": {"requests": n_requests, "replications": 1},
        "arrival": {"process": "poisson", "rate": 1000},
        "batching": {"policy": "dynamic", "max_batch_size": 16, "max_queue_delay": "5ms"},
        "service": {"base": "2ms", "per_item": "0.5ms", "distribution": "deterministic"},
    })


def replicas_scenario(n_requests: int = 1_000_000) -> Scenario:
    """The standard case at 4000 req/s over 4 replicas behind join_shortest_queue."""
    return standard_scenario(n_requests).with_overrides({
        "name": "bench-replicas", "arrival.rate": 4000,
        "replicas": {"count": 4, "router": "join_shortest_queue"}})


def in_process(n_requests: int) -> tuple[str, float]:
    """(a): the report lines and the simulation's requests per second."""
    scenario = standard_scenario(n_requests)
    started = time.perf_counter()
    record = simulate(scenario, 0)
    sim_s = time.perf_counter() - started
    summary = summarize([record], None)
    total_s = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return (f"standard case: {n_requests:,} requests, mean batch "
            f"{summary['batch_size']['mean']:.2f}, p99 latency "
            f"{summary['latency']['p99'] * 1e3:.2f} ms\n"
            f"(a) in process: simulation {sim_s:.2f} s wall = {n_requests / sim_s:,.0f} "
            f"requests/s; with summary statistics {total_s:.2f} s = "
            f"{n_requests / total_s:,.0f} requests/s; peak memory {peak_mb:.0f} MB"
            ), n_requests / sim_s


def end_to_end(scenario: Scenario, repeat: int) -> tuple[list[float], list[float]]:
    """Wall seconds and peak MB of each of `repeat` fresh `batchsim run` processes."""
    with tempfile.TemporaryDirectory(prefix="batchsim-bench-") as tmp:
        path = Path(tmp) / f"{scenario.name}.yaml"
        path.write_text(scenario.to_yaml())
        command = [sys.executable, "-m", "simulator", "run", str(path),
                   "--out", str(Path(tmp) / "results")]
        runs = [_child(command, Path(tmp)) for _ in range(repeat)]
    return [wall for wall, _ in runs], [peak for _, peak in runs]


def warm_up() -> None:
    """One small untimed `batchsim run`: it writes the bytecode a fresh process then
    finds (as an installed package has it), even under PYTHONDONTWRITEBYTECODE."""
    with tempfile.TemporaryDirectory(prefix="batchsim-bench-") as tmp:
        path = Path(tmp) / "warm-up.yaml"
        path.write_text(standard_scenario(1000).to_yaml())
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        subprocess.run([sys.executable, "-m", "simulator", "run", str(path), "--out",
                        str(Path(tmp) / "results")], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _child(command: list[str], tmp: Path) -> tuple[float, float]:
    """Run `command` to its end: (wall seconds, its own peak RSS in MB)."""
    with open(tmp / "child.log", "w+b") as log:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
        _, status, usage = os.wait4(child.pid, 0)
        wall_s = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode:
            log.seek(0)
            raise RuntimeError(f"{' '.join(command)} exited {child.returncode}: "
                               f"{log.read().decode(errors='replace')}")
    return wall_s, usage.ru_maxrss / 1024


def _end_to_end_line(label: str, n_requests: int, walls: list[float], peaks: list[float],
                     target_rps: int) -> tuple[str, float]:
    median_s = statistics.median(walls)
    line = (f"{label} `batchsim run`, fresh process, run folder written: median "
            f"{median_s:.2f} s of {len(walls)} ({min(walls):.2f}-{max(walls):.2f}) = "
            f"{n_requests / median_s:,.0f} requests/s (target {target_rps:,}); peak memory "
            f"{statistics.median(peaks):.0f} MB")
    return line, n_requests / median_s


def obvious(n_requests: int) -> tuple[str, float]:
    """(c): the obvious model on the standard case's first arrivals, checked against
    `simulate()` on the same requests."""
    from .obvious_model import simulate_obvious

    record = simulate(standard_scenario(n_requests), 0)
    started = time.perf_counter()
    result = simulate_obvious(record.arrival_s, 16, 0.005, 0.002, 0.0005)
    rate = n_requests / (time.perf_counter() - started)
    cut = record.batch_size.size
    completed = ~np.isnan(record.finish_s)
    same = (np.array_equal(result.batch_sizes[:cut], record.batch_size)
            and np.array_equal(result.finish_s[completed], record.finish_s[completed]))
    return (f"(c) the obvious SimPy model (a process per request, Store + Resource): "
            f"{n_requests:,} requests at {rate:,.0f} requests/s; same batches and finish "
            f"times as simulate(): {'yes' if same else 'NO'}"), rate


def run_benchmark(n_requests: int = 1_000_000, repeat: int = 3,
                  obvious_requests: int = 50_000) -> str:
    """The whole report; `repeat=0` leaves out the fresh-process runs (b) and (d)."""
    lines, sim_rps = in_process(n_requests)
    lines = [lines]
    e2e_rps = None
    if repeat:
        warm_up()
        walls, peaks = end_to_end(standard_scenario(n_requests), repeat)
        line, e2e_rps = _end_to_end_line("(b) standard case:", n_requests, walls, peaks,
                                         TARGET_END_TO_END_RPS)
        lines.append(f"{line} (target {TARGET_PEAK_MB} MB)")
    text, obvious_rps = obvious(obvious_requests)
    ratios = f"(a) is {sim_rps / obvious_rps:.1f}x faster"
    if e2e_rps:
        ratios += f", (b) end to end {e2e_rps / obvious_rps:.1f}x"
    lines.append(f"{text}; {ratios}")
    if repeat:
        walls, peaks = end_to_end(replicas_scenario(n_requests), repeat)
        lines.append(_end_to_end_line("(d) 4 replicas, join_shortest_queue, 4000 req/s:",
                                      n_requests, walls, peaks, TARGET_REPLICAS_RPS)[0])
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m simulator.bench",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("requests", nargs="?", type=_at_least(1000), default=1_000_000,
                        help="requests in the standard and replicas cases (default 1,000,000)")
    parser.add_argument("--repeat", type=_at_least(0), default=3,
                        help="fresh-process runs of each end-to-end case, median reported "
                             "(default 3; 0 leaves them out)")
    parser.add_argument("--obvious-requests", type=_at_least(1000), default=50_000,
                        help="requests for the obvious SimPy model (default 50,000)")
    args = parser.parse_args(argv)
    print(run_benchmark(args.requests, args.repeat, args.obvious_requests))


def _at_least(low: int):
    def parse(text: str) -> int:
        value = int(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low:,}, got {value}")
        return value
    parse.__name__ = "count"
    return parse


if __name__ == "__main__":
    main()
