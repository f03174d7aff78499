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

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .experiments.runner import RunResult, run
    from .model.errors import ScenarioError
    from .model.scenario import Scenario

__all__ = ["RunResult", "Scenario", "ScenarioError", "load_scenario", "run"]

_PUBLIC = {"RunResult": ".experiments.runner", "run": ".experiments.runner",
           "ScenarioError": ".model.errors", "Scenario": ".model.scenario"}
"""Imported on first use, so that `import simulator.<module>` (the command line's start-up
among them) loads only what that module needs."""


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_PUBLIC[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


def load_scenario(path: str | Path, overrides: dict[str, Any] | None = None) -> Scenario:
    """Load and validate a scenario file, applying `{"dotted.key": value}` overrides."""
    from .model.scenario import Scenario

    return Scenario.from_yaml(path, overrides)
