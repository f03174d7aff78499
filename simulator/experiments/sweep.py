"""Running a sweep: every missing point's replications, per-point summaries, `sweep.csv`.

Owns the sweep folder `results/<name>/<sweep-id>/`:
`scenario.yaml` (resolved base scenario), `sweep.json` (grids and points),
`points/<point-id>.json` (one summary per point, written atomically as soon as
the point is complete) and `sweep.csv` (written when every point is done).
Replication k of a point is exactly replication k of `batchsim run` of that
point, so the numbers do not depend on the executor or the worker count.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..sim import simulate
from ..storage.atomic import atomic_path, write_atomic
from ..storage.results import environment_meta, save_arrays
from ..storage.sweep_table import point_row, table_csv
from .executors import Task, run_tasks
from .runner import apply_auto_warmup, build_summary, json_safe
from .runner import run as run_point
from .sweep_points import Point, Sweep

CSV_FILE, SWEEP_FILE, SCENARIO_FILE = "sweep.csv", "sweep.json", "scenario.yaml"
WHOLE_POINT_FACTOR = 2
"""With at least this many missing points per worker, a task is a whole point."""


@dataclass
class SweepOutcome:
    """What a sweep run did: points computed now, skipped (done before), failed."""

    computed: list[str] = field(default_factory=list)
    skipped: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    csv_path: Path | None = None


def run_sweep(sweep: Sweep, workers: int = 1, on_point: Callable[[], None] | None = None,
              command: str | None = None, dask_client=None,
              keep_arrays: bool = False) -> SweepOutcome:
    """Compute the points of `sweep` without a saved summary, then assemble `sweep.csv`."""
    prepare_folder(sweep, command)
    missing = sweep.missing()
    outcome = SweepOutcome(skipped=len(sweep.points) - len(missing))
    collector = _Collector(sweep, outcome, on_point, keep_arrays)
    whole = len(missing) >= WHOLE_POINT_FACTOR * max(workers, 1) or dask_client is not None
    tasks = [task for point in missing
             for task in point_tasks(point, whole, sweep.arrays_file(point) if keep_arrays
                                     else None)]
    run_tasks(tasks, collector.on_done, workers, dask_client)
    if not outcome.failed and not sweep.missing():
        outcome.csv_path = write_table(sweep)
    return outcome


def point_tasks(point: Point, whole: bool = False, arrays_path: Path | None = None
                ) -> list[Task]:
    """One task per replication, or one per point (`whole`, or with a precision target).

    A whole-point task also summarises in the worker, which matters: the summary
    costs about half as much as simulating, and done in the parent it would be
    the serial part that caps the speed-up.
    """
    scenario = point.scenario
    if whole or scenario.run.target_precision:
        return [Task((point.index, None), summarize_whole_point, (scenario, arrays_path))]
    return [Task((point.index, k), simulate, (scenario, k))
            for k in range(scenario.run.replications)]


def summarize_whole_point(scenario, arrays_path: Path | None = None) -> dict:
    """Run a point with its replication rounds in one worker; its summary.

    With `arrays_path`, the per-request arrays are saved there (atomically) too.
    """
    result = run_point(scenario, workers=1)
    if arrays_path is not None:
        save_arrays_atomic(arrays_path, result.records)
    return result.summary


def save_arrays_atomic(path: Path, records) -> None:
    with atomic_path(path, suffix=".npz") as tmp:
        save_arrays(tmp, records)


class _Collector:
    """Gathers replications per point and saves each point as soon as it is complete."""

    def __init__(self, sweep: Sweep, outcome: SweepOutcome, on_point, keep_arrays=False):
        self.sweep, self.outcome, self.on_point = sweep, outcome, on_point
        self.keep_arrays = keep_arrays
        self.records: dict[int, dict[int, object]] = {}

    def on_done(self, key, result, error) -> None:
        index, replication = key
        point = self.sweep.points[index]
        if point.point_id in self.outcome.failed:
            return
        if error is not None:
            self.outcome.failed[point.point_id] = f"{type(error).__name__}: {error}"
            self.records.pop(index, None)
            self._tick()
            return
        if replication is None:
            self._save(point, result)
            return
        got = self.records.setdefault(index, {})
        got[replication] = result
        if len(got) == point.scenario.run.replications:
            records = [got[k] for k in sorted(got)]
            del self.records[index]
            apply_auto_warmup(point.scenario, records)
            if self.keep_arrays:
                save_arrays_atomic(self.sweep.arrays_file(point), records)
            self._save(point, build_summary(point.scenario, records))

    def _save(self, point: Point, summary: dict) -> None:
        document = {"point": point.point_id, "overrides": point.overrides,
                    "summary": json_safe(summary), "scenario": point.scenario.to_dict()}
        write_atomic(self.sweep.point_file(point), json.dumps(document, indent=1) + "\n")
        self.outcome.computed.append(point.point_id)
        self._tick()

    def _tick(self) -> None:
        if self.on_point:
            self.on_point()


def prepare_folder(sweep: Sweep, command: str | None) -> None:
    """Create the sweep folder with its resolved scenario and `sweep.json` (idempotent)."""
    sweep.points_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(sweep.folder / SCENARIO_FILE, sweep.base.to_yaml())
    document = {
        "grids": [[key, values] for key, values in sweep.grids], "zip": sweep.zip_grids,
        "points": [{"point": p.point_id, "overrides": p.overrides} for p in sweep.points],
        "command": command, "environment": environment_meta(),
    }
    write_atomic(sweep.folder / SWEEP_FILE, json.dumps(document, indent=1, default=str) + "\n")


def write_table(sweep: Sweep) -> Path:
    """`sweep.csv` from the saved point summaries, in point order."""
    rows = []
    for point in sweep.points:
        document = json.loads(sweep.point_file(point).read_text())
        rows.append(point_row(point.point_id, document["overrides"], document["summary"]))
    path = sweep.folder / CSV_FILE
    write_atomic(path, table_csv(rows))
    return path
