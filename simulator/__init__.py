"""batchsim: a discrete-event simulator of batched ML inference serving.

Public API:
    Scenario       the validated scenario model (`Scenario.from_yaml(path)`)
    load_scenario  `Scenario.from_yaml` with optional dotted-key overrides
    run            simulate a scenario's replications -> RunResult
    RunResult      summary (same fields as `batchsim run --format json`),
                   per-replication arrays (`records`) and `to_json()`
    ScenarioError  raised for any bad input, naming the file, key and value
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .experiments.runner import RunResult, run
from .model.errors import ScenarioError
from .model.scenario import Scenario

__all__ = ["RunResult", "Scenario", "ScenarioError", "load_scenario", "run"]


def load_scenario(path: str | Path, overrides: dict[str, Any] | None = None) -> Scenario:
    """Load and validate a scenario file, applying `{"dotted.key": value}` overrides."""
    return Scenario.from_yaml(path, overrides)
