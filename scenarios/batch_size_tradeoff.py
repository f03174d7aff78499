"""The batch-size trade-off, measured: bigger batches buy throughput with latency.

One GPU-like model server (a batch of k takes 8 ms + 0.4 ms * k, lognormal noise of
cv 0.1) behind Triton's dynamic batcher, with three settings built here in code:

    max_batch_size  1, max_queue_delay  0ms   (no batching)
    max_batch_size 10, max_queue_delay 10ms
    max_batch_size 50, max_queue_delay 50ms

For each setting it measures, by simulation only (public API: Scenario, run):

* capacity: the throughput while offered 4000 req/s (an overload for all three: the
  server then always finds a full batch waiting), with its 95% CI. Unless --quick,
  it is confirmed as the largest sustainable rate: at 0.95x of it the run is not
  `saturated`, at 1.05x it is;
* p50 and p99 latency at a common load that all three sustain (20 req/s unless --rate).

and prints one aligned table; each figure is labelled low/medium/high by its rank.
The same numbers come from `batchsim run scenarios/batch-size-tradeoff/max-batch-*.yaml`
(see scenarios/batch-size-tradeoff/README.md for the exact commands).

    python scenarios/batch_size_tradeoff.py           # full run (~15 s on 2 cores)
    python scenarios/batch_size_tradeoff.py --quick   # short run (~2 s)
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from dataclasses import dataclass

from simulator import Scenario, run

SEED = 1
SETTINGS = ((1, "0ms"), (10, "10ms"), (50, "50ms"))
"""(max_batch_size, max_queue_delay): the delay grows with the batch it may wait for."""
COMMON_RATE_RPS = 20.0
OVERLOAD_RATE_RPS = 4000.0
BRACKET = (0.95, 1.05)
LABELS = ("low", "medium", "high")

BASE = {
    "seed": SEED,
    "run": {"duration": "600s", "warmup": "30s", "replications": 5},
    "arrival": {"process": "poisson", "rate": COMMON_RATE_RPS},
    "batching": {"policy": "dynamic"},
    "service": {"base": "8ms", "per_item": "0.4ms", "distribution": "lognormal", "cv": 0.1},
    "servers": {"count": 1},
}


@dataclass(frozen=True)
class Length:
    """How long each run of one kind is: simulated duration, warm-up, replications."""

    duration: str
    warmup: str
    replications: int


FULL = {"common": Length("600s", "30s", 5), "overload": Length("60s", "10s", 5),
        "bracket": Length("300s", "30s", 5)}
QUICK = {"common": Length("120s", "10s", 2), "overload": Length("20s", "5s", 2),
         "bracket": None}


def build(max_batch_size: int, max_queue_delay: str, rate_rps: float,
          length: Length) -> Scenario:
    """One setting at one arrival rate, validated like a scenario file."""
    data = copy.deepcopy(BASE)
    data["name"] = f"max-batch-{max_batch_size}"
    data["batching"].update(max_batch_size=max_batch_size, max_queue_delay=max_queue_delay)
    data["arrival"]["rate"] = rate_rps
    data["run"] = {"duration": length.duration, "warmup": length.warmup,
                   "replications": length.replications}
    return Scenario.from_dict(data, source=f"batch_size_tradeoff.py:{data['name']}")


@dataclass
class Row:
    max_batch_size: int
    max_queue_delay: str
    capacity_rps: float
    capacity_ci_rps: float
    bracket: str
    p50_ms: float
    p99_ms: float
    batch_mean: float


def measure(max_batch_size: int, max_queue_delay: str, rate_rps: float, plan: dict) -> Row:
    overload = run(build(max_batch_size, max_queue_delay, OVERLOAD_RATE_RPS, plan["overload"]),
                   workers=None).summary
    if not overload["saturated"]:
        sys.exit(f"max_batch_size {max_batch_size}: {OVERLOAD_RATE_RPS:g} req/s is not an "
                 "overload, so its throughput is not the capacity")
    capacity_rps = overload["throughput"]
    bracket = "-"
    if plan["bracket"] is not None:
        flags = [run(build(max_batch_size, max_queue_delay, round(f * capacity_rps, 1),
                           plan["bracket"]), workers=None).summary["saturated"]
                 for f in BRACKET]
        bracket = "/".join("yes" if s else "no" for s in flags)
    common = run(build(max_batch_size, max_queue_delay, rate_rps, plan["common"]),
                 workers=None).summary
    if common["saturated"]:
        sys.exit(f"max_batch_size {max_batch_size} does not sustain {rate_rps:g} req/s")
    return Row(max_batch_size, max_queue_delay, capacity_rps, overload["throughput_ci95"] or 0.0,
               bracket, common["latency"]["p50"] * 1e3, common["latency"]["p99"] * 1e3,
               common["batch_size"]["mean"])


def rank_labels(values: list[float]) -> list[str]:
    """low/medium/high by rank (ties share the lower label)."""
    ordered = sorted(values)
    return [LABELS[ordered.index(v)] for v in values]


def render(rows: list[Row], rate_rps: float) -> str:
    thr = rank_labels([r.capacity_rps for r in rows])
    p50 = rank_labels([r.p50_ms for r in rows])
    p99 = rank_labels([r.p99_ms for r in rows])
    header = ("max batch size", "max queue delay", "capacity req/s (95% CI)",
              "sat. @0.95x/1.05x", f"p50 ms @ {rate_rps:g} req/s", f"p99 ms @ {rate_rps:g} req/s",
              "mean batch")
    cells = [header]
    for i, r in enumerate(rows):
        cells.append((str(r.max_batch_size), r.max_queue_delay,
                      f"{r.capacity_rps:.2f} ± {r.capacity_ci_rps:.2f} ({thr[i]})", r.bracket,
                      f"{r.p50_ms:.2f} ({p50[i]})", f"{r.p99_ms:.2f} ({p99[i]})",
                      f"{r.batch_mean:.2f}"))
    widths = [max(len(row[c]) for row in cells) for c in range(len(header))]
    lines = ["  ".join(cell.rjust(w) if c in (0, 6) else cell.ljust(w)
                       for c, (cell, w) in enumerate(zip(row, widths, strict=True))).rstrip()
             for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short runs (for the test)")
    parser.add_argument("--rate", type=float, default=COMMON_RATE_RPS,
                        help=f"common load in req/s (default {COMMON_RATE_RPS:g})")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    started = time.perf_counter()
    rows = [measure(size, delay, args.rate, plan) for size, delay in SETTINGS]
    common, over, bracket = plan["common"], plan["overload"], plan["bracket"]
    print("batch-size trade-off: 1 server, service 8ms + 0.4ms*k (lognormal cv 0.1), "
          "Triton dynamic batching, Poisson arrivals")
    print(f"capacity = throughput offered {OVERLOAD_RATE_RPS:g} req/s ({over.duration}, "
          f"warm-up {over.warmup}, {over.replications} replications)"
          + ("" if bracket is None else f"; saturated checked at 0.95x and 1.05x of it "
             f"({bracket.duration}, warm-up {bracket.warmup}, {bracket.replications} "
             "replications)"))
    print(f"latency at {args.rate:g} req/s ({common.duration}, warm-up {common.warmup}, "
          f"{common.replications} replications); seed {SEED}")
    print()
    print(render(rows, args.rate))
    print()
    print(f"wall time {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
