"""Fraud detection: how much queue delay a 3 ms p99 budget can afford.

Runs scenarios/fraud-detection/fraud-detection.yaml with several
`batching.max_queue_delay` values and prints p50 and p99 latency (client clock,
overheads included, ms ± 95% CI), the share of requests within the SLO, the
verdict, the mean batch and the utilisation.

    python scenarios/fraud-detection/delay_study.py           # 5 x 120 s per point
    python scenarios/fraud-detection/delay_study.py --quick   # 3 x 30 s per point
"""

from __future__ import annotations

import argparse
from pathlib import Path

from simulator import Scenario, run
from simulator.reporting.tables import slo_verdict

HERE = Path(__file__).resolve().parent
DELAYS = ("0", "250us", "500us", "750us", "1ms", "2ms")


def measure(delay: str, quick: bool = False) -> dict:
    """Summary of the scenario with `max_queue_delay` = `delay`."""
    overrides = {"batching.max_queue_delay": delay}
    if quick:
        overrides.update({"run.duration": "30s", "run.replications": 3})
    scenario = Scenario.from_yaml(HERE / "fraud-detection.yaml", overrides)
    return run(scenario, workers=None).summary


def row(delay: str, summary: dict) -> str:
    lat, ci = summary["latency"], summary["latency_ci95"]

    def ms(key):
        return f"{lat[key] * 1e3:.3f} ± {ci[key] * 1e3:.2g}"

    attained = f"{summary['slo_attainment']:.2%} ± {summary['slo_attainment_ci95']:.2%}"
    verdict = slo_verdict(summary).split(": ", 1)[1].split(" ")[0]
    return (f"| {delay} | {ms('p50')} | {ms('p99')} | {attained} | {verdict} | "
            f"{summary['batch_size']['mean']:.2f} | {summary['utilization']:.1%} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 x 30 s per point")
    args = parser.parse_args()
    print("| max_queue_delay | p50 (ms) | p99 (ms) | within 3 ms | p99 <= 3 ms | mean batch "
          "| utilisation |")
    print("|---|---|---|---|---|---|---|")
    for delay in DELAYS:
        print(row(delay, measure(delay, args.quick)), flush=True)


if __name__ == "__main__":
    main()
