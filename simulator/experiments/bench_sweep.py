"""The sweep speed benchmark: `python -m simulator.bench_sweep`.

40 points (Poisson 40..1600 req/s into Triton-style dynamic batching, max 16,
5 ms delay, 2 ms + 0.5 ms/item lognormal service, 1 server) x 5 replications x
100,000 requests, run with `--workers 1` and `--workers 2` into throw-away
folders. Prints the median wall time of each and the speed-up. Timings mean
something only on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from pathlib import Path

from ..model.grid import parse_grid
from ..model.scenario import Scenario
from .sweep import run_sweep
from .sweep_points import resolve_sweep

LOAD_GRID = "arrival.rate=40:1600:40"


def bench_scenario(n_requests: int, replications: int) -> Scenario:
    return Scenario.model_validate({
        "name": "bench-sweep",
        "seed": 1,
        "run": {"requests": n_requests, "replications": replications},
        "arrival": {"process": "poisson", "rate": 1000},
        "batching": {"policy": "dynamic", "max_batch_size": 16, "max_queue_delay": "5ms"},
        "service": {"base": "2ms", "per_item": "0.5ms", "distribution": "lognormal",
                    "cv": 0.2},
    })


def time_sweep(scenario: Scenario, grid: str, workers: int) -> tuple[float, float]:
    """(wall, CPU) seconds of one complete sweep into a fresh temporary folder.

    CPU counts this process and its finished workers: if it is well below
    workers x wall, other programs were competing for the cores.
    """
    with tempfile.TemporaryDirectory() as out:
        sweep = resolve_sweep(scenario, [parse_grid(grid, scenario)], False, Path(out))
        cpu_before, started = _cpu_s(), time.perf_counter()
        outcome = run_sweep(sweep, workers=workers)
        wall_s, cpu_s = time.perf_counter() - started, _cpu_s() - cpu_before
        assert outcome.csv_path is not None and not outcome.failed
    return wall_s, cpu_s


def _cpu_s() -> float:
    own, children = (resource.getrusage(who) for who in (resource.RUSAGE_SELF,
                                                           resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000, help="per replication")
    parser.add_argument("--replications", type=int, default=5)
    parser.add_argument("--grid", default=LOAD_GRID, help="KEY=VALUES (default: 40 loads)")
    parser.add_argument("--workers", default="1,2", help="comma list of worker counts")
    parser.add_argument("--repeats", type=int, default=3, help="runs per worker count")
    args = parser.parse_args(argv)
    scenario = bench_scenario(args.requests, args.replications)
    points = len(parse_grid(args.grid)[1])
    print(f"sweep benchmark: {points} points x {args.replications} replications x "
          f"{args.requests:,} requests, median of {args.repeats}")
    medians = {}
    for workers in (int(w) for w in args.workers.split(",")):
        runs = [time_sweep(scenario, args.grid, workers) for _ in range(args.repeats)]
        medians[workers] = statistics.median(wall for wall, _ in runs)
        shown = ", ".join(f"{wall:.2f} s wall / {cpu:.2f} s CPU" for wall, cpu in runs)
        print(f"  --workers {workers}: median {medians[workers]:.2f} s  (runs: {shown})")
    base = medians.get(1)
    for workers, wall_s in medians.items():
        if base and workers != 1:
            print(f"  speed-up with {workers} workers: {base / wall_s:.2f}x")


if __name__ == "__main__":
    main()
