"""Network skew: rare lost attempts drag the mean latency up while p50 does not move.

Runs scenarios/network-skew/network-skew.yaml at several attempt-loss probabilities
(`network.failure_probability`) and prints mean, p50, p99 and p99.9 latency (client
clock, ms, ± 95% CI), the mean - p50 gap, attempts per request and failed requests.

    python scenarios/network-skew/skew_study.py            # 5 x 120 s per point (~1 min)
    python scenarios/network-skew/skew_study.py --quick    # 3 x 30 s per point
"""

from __future__ import annotations

import argparse
from pathlib import Path

from simulator import Scenario, run

HERE = Path(__file__).resolve().parent
PROBABILITIES = (0.0, 0.002, 0.005, 0.01, 0.02)


def measure(probability: float, quick: bool = False) -> dict:
    """Summary of the scenario with `failure_probability` set (shorter with `quick`)."""
    overrides = {"network.failure_probability": probability}
    if quick:
        overrides.update({"run.duration": "30s", "run.replications": 3})
    scenario = Scenario.from_yaml(HERE / "network-skew.yaml", overrides)
    return run(scenario, workers=None).summary


def row(probability: float, summary: dict) -> str:
    lat, ci, net = summary["latency"], summary["latency_ci95"], summary["network"]

    def ms(key):
        half = f" ± {ci[key] * 1e3:.2g}" if ci.get(key) is not None else ""
        return f"{lat[key] * 1e3:.1f}{half}"

    gap_ms = (lat["mean"] - lat["p50"]) * 1e3
    return (f"| {probability:g} | {ms('mean')} | {ms('p50')} | {ms('p99')} | {ms('p999')} | "
            f"{gap_ms:.1f} | {net['attempts_per_request']:.4f} | {net['failed']} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 x 30 s per point")
    args = parser.parse_args()
    print("| attempt loss p | mean (ms) | p50 (ms) | p99 (ms) | p99.9 (ms) | mean - p50 (ms) "
          "| attempts/request | failed |")
    print("|---|---|---|---|---|---|---|---|")
    for probability in PROBABILITIES:
        print(row(probability, measure(probability, args.quick)), flush=True)


if __name__ == "__main__":
    main()
