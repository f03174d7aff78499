"""Running a scenario: its replications (serially or in worker processes) and summary.

Owns `run()`, the public entry point, and `RunResult`. Replication k always
uses the random streams of replication k, so the result is the same whatever
the number of workers and whatever order they finish in.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

from .engine import simulate
from .metrics import summarize
from .records import ReplicationRecord
from .scenario import Scenario

PARALLEL_MIN_ARRIVALS = 300_000
"""Below this many expected arrivals in all, worker start-up costs more than it saves."""


@dataclass
class RunResult:
    """What `run()` returns: the scenario, its summary and every replication's arrays."""

    scenario: Scenario
    summary: dict
    records: list[ReplicationRecord] = field(repr=False)
    wall_s: float = 0.0

    def to_json(self, indent: int | None = 2) -> str:
        """The summary as JSON (NaN and infinities become null)."""
        return json.dumps(json_safe(self.summary), indent=indent, allow_nan=False)


def run(scenario: Scenario, replications: int | None = None, seed: int | None = None,
        workers: int | None = 1,
        on_replication: Callable[[int], None] | None = None) -> RunResult:
    """Simulate `scenario` (optionally with another seed or replication count).

    `workers=None` chooses: one process per core when the run is large enough.
    """
    updates = {}
    if replications is not None:
        updates["run.replications"] = replications
    if seed is not None:
        updates["seed"] = seed
    if updates:
        scenario = scenario.with_overrides(updates)
    count = scenario.run.replications
    workers = _choose_workers(scenario, workers)
    started = time.perf_counter()
    records = list(_replications(scenario, count, workers, on_replication))
    summary = build_summary(scenario, records)
    return RunResult(scenario, summary, records, wall_s=time.perf_counter() - started)


def build_summary(scenario: Scenario, records: list[ReplicationRecord]) -> dict:
    """The JSON-shaped summary of `records` with the scenario's identity in front."""
    slo = scenario.slo
    stats = summarize(records, slo.latency if slo else None)
    head = {
        "name": scenario.name,
        "seed": scenario.seed,
        "replications": len(records),
        "warmup_s": scenario.run.warmup,
        "window_s": sum(r.end_s - r.warmup_s for r in records) / len(records),
        "capacity_rps": scenario.capacity_rps,
        "offered_load": scenario.offered_load,
        "slo": None if slo is None else {"latency_s": slo.latency, "percentile": slo.percentile},
    }
    return {**head, **stats, "warnings": scenario.warnings()}


def _choose_workers(scenario: Scenario, workers: int | None) -> int:
    count = scenario.run.replications
    if workers is None:
        big = scenario.expected_arrivals * count >= PARALLEL_MIN_ARRIVALS
        workers = (os.cpu_count() or 1) if big else 1
    return max(1, min(workers, count))


def _replications(scenario: Scenario, count: int, workers: int,
                  on_replication: Callable[[int], None] | None):
    if workers == 1:
        for k in range(count):
            yield simulate(scenario, k)
            if on_replication:
                on_replication(k)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for k, record in enumerate(pool.map(simulate, [scenario] * count, range(count))):
            if on_replication:
                on_replication(k)
            yield record


def json_safe(value):
    """`value` with NaN/inf floats replaced by None, recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value
