"""Coverage check of batchsim's confidence intervals: `python -m simulator.coverage`.

Runs many independent experiments of an M/M/1 queue (each experiment is one
`run()` with its own seed and several replications) and counts how often the
printed 95% interval (pooled estimate ± t half-width over the replications)
contains the true value: sojourn time ~ Exp(mu - lambda), so the p-quantile is
-ln(1 - p) / (mu - lambda). An honest interval covers about 95% of the time.
"""

from __future__ import annotations

import argparse
import math
import time
from concurrent.futures import ProcessPoolExecutor

from ..experiments.runner import run
from ..model.scenario import Scenario
from . import theory

STATISTICS = {"mean": None, "p50": 0.50, "p90": 0.90, "p99": 0.99}


def mm1_scenario(seed: int, rho: float, requests: int, replications: int) -> Scenario:
    mu = 1000.0
    return Scenario.model_validate({
        "name": "coverage-mm1", "seed": seed,
        "run": {"requests": requests, "warmup": 1.0, "replications": replications},
        "arrival": {"process": "poisson", "rate": rho * mu},
        "batching": {"policy": "none"},
        "service": {"base": 1 / mu, "distribution": "exponential"},
    })


def true_value_s(stat: str, rate_rps: float, mu: float = 1000.0) -> float:
    if stat == "mean":
        return theory.mm1_mean_sojourn_s(rate_rps, mu)
    return theory.mm1_sojourn_quantile_s(rate_rps, mu, STATISTICS[stat])


def one_experiment(args: tuple[int, float, int, int]) -> dict[str, bool]:
    """Does each statistic's interval contain the truth in this experiment?"""
    seed, rho, requests, replications = args
    scenario = mm1_scenario(seed, rho, requests, replications)
    summary = run(scenario).summary
    covered = {}
    for stat in STATISTICS:
        estimate, half = summary["latency"][stat], summary["latency_ci95"][stat]
        covered[stat] = abs(estimate - true_value_s(stat, scenario.arrival.rate)) <= half
    return covered


def coverage(experiments: int = 200, rho: float = 0.8, requests: int = 50_000,
             replications: int = 5, workers: int = 2, first_seed: int = 1000) -> dict:
    """Share of experiments whose interval covers the true value, per statistic."""
    tasks = [(first_seed + i, rho, requests, replications) for i in range(experiments)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        outcomes = list(pool.map(one_experiment, tasks))
    return {stat: sum(o[stat] for o in outcomes) / experiments for stat in STATISTICS}


def _binomial_half_width(share: float, n: int) -> float:
    return 1.96 * math.sqrt(max(share * (1 - share), 1e-12) / n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=int, default=200)
    parser.add_argument("--rho", type=float, default=0.8)
    parser.add_argument("--requests", type=int, default=50_000,
                        help="arrivals per replication")
    parser.add_argument("--replications", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    started = time.perf_counter()
    shares = coverage(args.experiments, args.rho, args.requests, args.replications, args.workers)
    print(f"M/M/1 rho {args.rho}: {args.experiments} experiments x {args.replications} "
          f"replications x {args.requests:,} requests, nominal 95% t intervals")
    for stat, share in shares.items():
        print(f"  latency {stat:>4}: covered {share:.1%} "
              f"(± {_binomial_half_width(share, args.experiments):.1%} binomial 95%)")
    print(f"wall time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
