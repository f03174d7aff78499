"""Running a scenario: its replications (serially or in worker processes) and summary.

Owns `run()`, the public entry point, and `RunResult`. Replication k always
uses the random streams of replication k, so the result is the same whatever
the number of workers and whatever order they finish in.
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from ..analysis.metrics import summarize
from ..analysis.warmup import auto_warmup_cuts_s
from ..model.scenario import Scenario
from ..sim import simulate
from ..sim.records import ReplicationRecord
from .interrupts import worker_pool

PARALLEL_MIN_ARRIVALS = 300_000
"""Below this many expected arrivals in all, worker start-up costs more than it saves."""
MIN_TAIL_REQUESTS = 100
"""A percentile resting on fewer measured requests beyond it earns a warning."""


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
    With `run.target_precision`, replications are added (in rounds, always the
    same ones for the same scenario) until every named statistic is precise
    enough or `run.max_replications` is reached.
    """
    updates = {}
    if replications is not None:
        updates["run.replications"] = replications
    if seed is not None:
        updates["seed"] = seed
    if updates:
        scenario = scenario.with_overrides(updates)
    workers = _choose_workers(scenario, workers)
    started = time.perf_counter()
    records = simulate_replications(scenario, range(scenario.run.replications), workers,
                                    on_replication)
    precision = None
    if scenario.run.target_precision:
        records, precision = _until_precise(scenario, records, workers, on_replication)
    apply_auto_warmup(scenario, records)
    summary = build_summary(scenario, records, precision)
    return RunResult(scenario, summary, records, wall_s=time.perf_counter() - started)


def simulate_replications(scenario: Scenario, indexes: range, workers: int = 1,
                          on_replication: Callable[[int], None] | None = None
                          ) -> list[ReplicationRecord]:
    """Replications `indexes` of `scenario`, each with its warm-up cut applied."""
    with _garbage_collected_after():
        return list(_replications(scenario, indexes, workers, on_replication))


@contextlib.contextmanager
def _garbage_collected_after() -> Iterator[None]:
    """A simulation's SimPy processes and environment refer to one another, so its working
    state outlives it until a full garbage collection; one at the end frees it for the
    statistics (std case: ~25 MB less at the peak). Everything older is frozen out of the
    collection meanwhile, so it takes milliseconds instead of walking every import."""
    gc.freeze()
    try:
        yield
    finally:
        gc.collect()
        gc.unfreeze()


def apply_auto_warmup(scenario: Scenario, records: list[ReplicationRecord]) -> None:
    """With `warmup: auto`, set every record's warm-up to the MSER-5 cut."""
    if scenario.run.warmup == "auto":
        for record, cut_s in zip(records, auto_warmup_cuts_s(records), strict=True):
            record.warmup_s = cut_s


def build_summary(scenario: Scenario, records: list[ReplicationRecord],
                  precision: dict | None = None) -> dict:
    """The JSON-shaped summary of `records` with the scenario's identity in front."""
    slo = scenario.slo
    stats = summarize(records, slo.latency if slo else None)
    cuts_s = [r.warmup_s for r in records]
    head = {
        "name": scenario.name,
        "seed": scenario.seed,
        "replications": len(records),
        "warmup_s": sum(cuts_s) / len(cuts_s),
        "window_s": sum(r.end_s - r.warmup_s for r in records) / len(records),
        "capacity_rps": scenario.capacity_rps,
        "offered_load": scenario.offered_load,
        "slo": None if slo is None else {"latency_s": slo.latency, "percentile": slo.percentile},
    }
    if scenario.run.warmup == "auto":
        head["warmup_auto"] = {"method": "MSER-5", "cuts_s": cuts_s}
    if precision is not None:
        head["precision"] = precision
    notes = scenario.warnings() + result_warnings(scenario, stats)
    return {**head, **stats, "warnings": notes}


def result_warnings(scenario: Scenario, stats: dict) -> list[str]:
    """What makes these particular numbers untrustworthy, in plain words."""
    notes = []
    percentile = scenario.slo.percentile if scenario.slo else 99.0
    beyond = stats["measured_requests"] * (1 - percentile / 100)
    if beyond < MIN_TAIL_REQUESTS:
        notes.append(f"only {beyond:.0f} measured requests lie beyond p{percentile:g} (fewer "
                     f"than {MIN_TAIL_REQUESTS}): that percentile is noisy; run longer")
    if (stats["saturated"] or stats["utilization"] >= 0.99) and not scenario.is_closed_loop:
        notes.append(f"the system is unstable (utilisation {stats['utilization']:.1%}"
                     f"{', saturated' if stats['saturated'] else ''}): steady-state figures "
                     "are meaningless")
    late = stats.get("network", {}).get("late_responses", 0)
    if late:
        notes.append(f"{late} answers took longer than network.timeout: a real client would "
                     "have retried them, and this model retries lost attempts only")
    return notes


def statistic(summary: dict, name: str) -> tuple[float | None, float | None]:
    """(estimate, 95% CI half-width) of a dotted statistic name such as `latency.p99`."""
    group, _, key = name.partition(".")
    if key:
        return summary[group][key], summary[f"{group}_ci95"][key]
    return summary[name], summary[f"{name}_ci95"]


def _relative_half_width(summary: dict, name: str) -> float:
    estimate, half_width = statistic(summary, name)
    if estimate is None or half_width is None or estimate == 0:
        return math.inf
    return half_width / abs(estimate)


def _until_precise(scenario: Scenario, records: list[ReplicationRecord], workers: int,
                   on_replication) -> tuple[list[ReplicationRecord], dict]:
    """Add replications until every target is met or max_replications is reached."""
    targets, limit = scenario.run.target_precision, scenario.run.max_replications
    slo_s = scenario.slo.latency if scenario.slo else None
    while True:
        apply_auto_warmup(scenario, records)
        stats = summarize(records, slo_s)
        achieved = {name: _relative_half_width(stats, name) for name in targets}
        ratio = max(achieved[n] / targets[n] for n in targets)
        if ratio <= 1 or len(records) >= limit:
            break
        wanted = len(records) + 1 if math.isinf(ratio) else math.ceil(len(records) * ratio**2)
        more = range(len(records), min(limit, max(wanted, len(records) + 1)))
        records += simulate_replications(scenario, more, workers, on_replication)
    report = {name: {"target": targets[name], "achieved": None if math.isinf(achieved[name])
                     else achieved[name], "reached": achieved[name] <= targets[name]}
              for name in targets}
    return records, report


def _choose_workers(scenario: Scenario, workers: int | None) -> int:
    count = scenario.run.replications
    if workers is None:
        big = scenario.expected_arrivals * count >= PARALLEL_MIN_ARRIVALS
        workers = (os.cpu_count() or 1) if big else 1
    return max(1, min(workers, max(count, 2 if scenario.run.target_precision else 1)))


def _replications(scenario: Scenario, indexes: range, workers: int,
                  on_replication: Callable[[int], None] | None):
    if workers == 1 or len(indexes) == 1:
        for k in indexes:
            yield simulate(scenario, k)
            if on_replication:
                on_replication(k)
        return
    with worker_pool(min(workers, len(indexes))) as pool:
        for k, record in zip(indexes, pool.map(simulate, [scenario] * len(indexes), indexes),
                             strict=True):
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
