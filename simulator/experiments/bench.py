"""The standard speed benchmark: `python -m simulator.bench` or `batchsim bench`.

Poisson 1000 req/s into Triton-style `dynamic` batching (max 16, 5 ms delay),
2 ms + 0.5 ms/item deterministic service, 1 server, 1,000,000 requests, one
replication in this process. Prints simulated requests per wall-second and the
peak resident memory of the process. Run it in a fresh process for the memory
figure to mean anything.
"""

from __future__ import annotations

import argparse
import resource
import time

from ..analysis.metrics import summarize
from ..model.scenario import Scenario
from ..sim import simulate


def standard_scenario(n_requests: int = 1_000_000) -> Scenario:
    return Scenario.model_validate({
        "name": "bench-standard",
        "seed": 1,
        "run": {"requests": n_requests, "replications": 1},
        "arrival": {"process": "poisson", "rate": 1000},
        "batching": {"policy": "dynamic", "max_batch_size": 16, "max_queue_delay": "5ms"},
        "service": {"base": "2ms", "per_item": "0.5ms", "distribution": "deterministic"},
    })


def run_benchmark(n_requests: int = 1_000_000) -> str:
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
            f"simulation: {sim_s:.2f} s wall = {n_requests / sim_s:,.0f} requests/s\n"
            f"with summary statistics: {total_s:.2f} s wall = "
            f"{n_requests / total_s:,.0f} requests/s\n"
            f"peak memory: {peak_mb:.0f} MB (max RSS of this process)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m simulator.bench",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("requests", nargs="?", type=int, default=1_000_000,
                        help="requests to simulate (default: 1,000,000)")
    print(run_benchmark(parser.parse_args(argv).requests))


if __name__ == "__main__":
    main()
