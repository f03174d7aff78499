"""A sweep's points: their ids and scenarios, the sweep's folder and what is already done.

Owns the identity of a sweep. The sweep id is a hash of the resolved base
scenario and the grids, so re-running the same command finds the same folder
and only the points without a saved summary are computed again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from ..model.errors import ScenarioError
from ..model.grid import Grid, grid_points
from ..model.scenario import Scenario

POINTS_DIR = "points"


@dataclass(frozen=True)
class Point:
    """One grid point: its position, swept values and fully resolved scenario."""

    index: int
    overrides: dict
    scenario: Scenario = field(repr=False, compare=False)

    @property
    def point_id(self) -> str:
        return f"p{self.index:05d}"

    def label(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.overrides.items()) or "(base scenario)"


@dataclass
class Sweep:
    """Every point of a sweep and where its results go."""

    base: Scenario
    grids: list[Grid]
    zip_grids: bool
    points: list[Point]
    folder: Path

    @property
    def points_dir(self) -> Path:
        return self.folder / POINTS_DIR

    def point_file(self, point: Point) -> Path:
        return self.points_dir / f"{point.point_id}.json"

    def arrays_file(self, point: Point) -> Path:
        """Per-request arrays of a point (written only with `--keep-arrays`)."""
        return self.points_dir / f"{point.point_id}.npz"

    def missing(self) -> list[Point]:
        """Points with no saved summary yet (all of them on a first run)."""
        return [p for p in self.points if not self.point_file(p).is_file()]


def resolve_sweep(base: Scenario, grids: list[Grid], zip_grids: bool, out_root: Path,
                  source: str = "--grid") -> Sweep:
    """Resolve every point (each one validated) and the sweep's folder."""
    points = []
    for index, overrides in enumerate(grid_points(grids, zip_grids, source)):
        points.append(Point(index, overrides, point_scenario(base, overrides, source)))
    folder = Path(out_root) / base.name / sweep_id(base, grids, zip_grids)
    return Sweep(base, grids, zip_grids, points, folder)


def point_scenario(base: Scenario, overrides: dict, source: str) -> Scenario:
    """The scenario of one point: the base with the swept keys set, `sweep:` dropped."""
    try:
        return base.with_overrides({**overrides, "sweep": None}, source)
    except ScenarioError as exc:
        shown = " ".join(f"{k}={v}" for k, v in overrides.items())
        raise ScenarioError(f"{source} (point {shown})", exc.field, exc.message,
                            exc.value) from None


def sweep_id(base: Scenario, grids: list[Grid], zip_grids: bool) -> str:
    """`sweep-<12 hex>`: the same for the same scenario, grids and pairing."""
    scenario = {k: v for k, v in base.to_dict().items() if k != "sweep"}
    identity = json.dumps({"scenario": scenario, "grids": [[k, v] for k, v in grids],
                           "zip": zip_grids}, sort_keys=True, default=str)
    return "sweep-" + hashlib.sha256(identity.encode()).hexdigest()[:12]
