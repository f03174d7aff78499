"""Reading saved results back: a sweep folder (`sweep.csv`) or a run folder (`summary.json`).

Owns the read side of the results layout for plots and reports, so they never
re-simulate: numbers come from disk, swept values in their own units
(durations as seconds) and the SLO from the resolved scenario.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..model.errors import ScenarioError
from ..model.units import parse_duration_s
from ..model.yaml_io import load_yaml_file


@dataclass
class SavedSweep:
    """A finished sweep: its rows (numbers parsed), swept keys and resolved scenario."""

    folder: Path
    rows: list[dict]
    swept: list[str]
    scenario: dict
    document: dict = field(default_factory=dict)
    """`sweep.json` as saved: grids, points, environment, command."""

    @property
    def slo_latency_s(self) -> float | None:
        slo = self.scenario.get("slo")
        return parse_duration_s(slo["latency"]) if slo else None

    @property
    def slo_percentile(self) -> float:
        slo = self.scenario.get("slo") or {}
        return float(slo.get("percentile", 99.0))

    def column(self, name: str, rows: list[dict] | None = None) -> np.ndarray:
        """One column as floats (NaN where empty or not a number)."""
        return np.array([_as_float(r.get(name)) for r in (rows or self.rows)])


@dataclass
class SavedRun:
    """A `batchsim run` folder: its summary and (lazily) its per-request arrays."""

    folder: Path
    summary: dict
    arrays_path: Path | None = None
    stem: str = ""
    """Prefix of figure names (a sweep point's id)."""

    def arrays(self) -> dict[str, np.ndarray]:
        path = self.arrays_path or self.folder / "requests.npz"
        if not path.is_file():
            raise ScenarioError(str(path), None, "no such file: this plot needs the per-request "
                                "arrays of a `batchsim run` folder or of a sweep point run "
                                "with `batchsim sweep --keep-arrays`")
        with np.load(path) as data:
            return {k: data[k] for k in data.files}


def load_result(folder: Path) -> SavedSweep | SavedRun:
    """The sweep or run saved in `folder`; a clear ScenarioError otherwise."""
    folder = Path(folder)
    if (folder / "sweep.csv").is_file():
        return load_sweep(folder)
    if (folder / "summary.json").is_file():
        return SavedRun(folder, _read_json(folder / "summary.json"))
    if (folder / "sweep.json").is_file():
        raise ScenarioError(str(folder), None, "this sweep is not finished (no sweep.csv): "
                            "re-run its sweep command to complete it")
    raise ScenarioError(str(folder), None, "not a batchsim result folder (no sweep.csv or "
                        "summary.json)")


def load_point(folder: Path, point_id: str) -> SavedRun:
    """One point of a sweep, shaped like a run (its arrays need `--keep-arrays`)."""
    path = Path(folder) / "points" / f"{point_id}.json"
    if not path.is_file():
        raise ScenarioError(str(folder), "--point", f"no saved point {point_id!r} (point ids "
                            "are the first column of sweep.csv)")
    document = _read_json(path)
    summary = {**document["summary"], "meta": {"scenario": document["scenario"]}}
    return SavedRun(Path(folder), summary, path.with_suffix(".npz"), f"{point_id}-")


def load_sweep(folder: Path) -> SavedSweep:
    document = _read_json(folder / "sweep.json") if (folder / "sweep.json").is_file() else {}
    with (folder / "sweep.csv").open(newline="") as handle:
        raw_rows = list(csv.DictReader(handle))
    swept = [key for key, _ in document.get("grids", [])]
    rows = [{k: _parse_cell(v) for k, v in row.items()} for row in raw_rows]
    scenario = load_yaml_file(folder / "scenario.yaml") if (folder / "scenario.yaml").is_file() \
        else {}
    return SavedSweep(folder, rows, swept, scenario or {}, document)


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ScenarioError(str(path), None, f"cannot read ({exc})") from None


def _parse_cell(text: str):
    """CSV text -> number, bool, None or the text (durations stay text such as 500us)."""
    if text == "":
        return None
    if text in ("true", "false"):
        return text == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _as_float(value) -> float:
    """A cell as a number: durations such as 500us in seconds, NaN if not a number."""
    if isinstance(value, bool) or value is None:
        return float("nan")
    try:
        return float(value)
    except (TypeError, ValueError):
        pass
    try:
        return parse_duration_s(value)
    except ValueError:
        return float("nan")
