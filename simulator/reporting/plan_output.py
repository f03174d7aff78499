"""What a plan search shows and saves: text tables, the plan folder, the Pareto plot.

Owns the plan folder `results/<name>/plan-<id>/`, written atomically (a
temporary folder renamed at the end): `plan.csv` (every evaluated or pruned
point), `pareto.csv`, `plan.yaml` (the chosen configuration as a scenario
`batchsim run` accepts), `plan.json` (targets, counts, choice, environment)
and `pareto.png` (cost against the SLO statistic, front highlighted).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from ..experiments.plan_search import PlanOutcome, chosen_scenario
from ..experiments.planning import PointResult
from ..experiments.runner import json_safe
from ..model.scenario import Scenario
from ..storage.results import atomic_folder, environment_meta, new_run_id
from ..storage.sweep_table import table_csv


def point_rows(outcome: PlanOutcome, points: list[PointResult]) -> list[dict]:
    return [p.row(outcome.rate_rps or 0.0) for p in points]


def render_plan(outcome: PlanOutcome) -> str:
    """The terminal view: chosen plan, Pareto front and how much was simulated."""
    lines = [_search_line(outcome)]
    if outcome.max_rates:
        lines += ["", "largest sustainable rate per configuration (best first):",
                  _table(outcome.max_rates)]
        return "\n".join(lines)
    if outcome.chosen is None:
        lines += ["", "no configuration in the grid meets the SLO at this rate"]
        closest = _closest(outcome)
        if closest is not None:
            lines.append("closest: " + _knobs(closest) + "  " + _figures(outcome, closest))
    else:
        lines += ["", "chosen: " + _knobs(outcome.chosen) + "  " + _figures(outcome, outcome.chosen)]
    if outcome.front:
        lines += ["", "Pareto front (cost, SLO statistic bound, capacity headroom):",
                  _table(point_rows(outcome, outcome.front))]
    return "\n".join(lines)


def _closest(outcome: PlanOutcome) -> PointResult | None:
    """The simulated point whose worst bound is nearest its limit (ratio to the limit; for
    goodput, limit to bound), or None if none was simulated."""
    def shortfall(point: PointResult) -> float:
        ratios = [(point.bounds[t.label()] / t.limit if not t.is_goodput else
                   t.limit / max(point.bounds[t.label()], 1e-12)) for t in outcome.targets]
        return max(ratios)

    simulated = [p for p in outcome.points
                 if all(t.label() in p.bounds for t in outcome.targets)]
    return min(simulated, key=shortfall, default=None)


def _search_line(outcome: PlanOutcome) -> str:
    targets = ", ".join(t.label() for t in outcome.targets)
    where = f"at {outcome.rate_rps:g} req/s" if outcome.rate_rps else "max rate"
    return (f"plan {where} for {targets}: simulated {outcome.simulated_points} of "
            f"{outcome.grid_size} grid points ({outcome.replications} replications)")


def _knobs(point: PointResult) -> str:
    return ", ".join(f"{k}={v}" for k, v in point.overrides.items())


def _figures(outcome: PlanOutcome, point: PointResult) -> str:
    row = point.row(outcome.rate_rps or 0.0)
    bounds = ", ".join(f"{label}: {point.estimates[label]:.4g} (bound {point.bounds[label]:.4g})"
                       for label in point.estimates)
    return (f"[{bounds}; cost {row['cost_per_hour']:.4g}/h, "
            f"{row['cost_per_million']:.4g} per million requests, "
            f"headroom {row['headroom']:.0%}]")


def _table(rows: list[dict]) -> str:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    cells = [[cell_text(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    head = "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))
    body = ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join([head, *body])


def cell_text(value) -> str:
    """A table cell: floats to 4 significant digits, NaN as '-', None empty."""
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.4g}"
    return "" if value is None else str(value)


def write_plan(outcome: PlanOutcome, base: Scenario, out_root: Path, command: str) -> Path:
    """Write the plan folder atomically and return it."""
    plan_id = f"plan-{new_run_id()}"
    with atomic_folder(Path(out_root) / base.name, plan_id) as tmp:
        _write_files(tmp, outcome, base, command, plan_id)
    return Path(out_root) / base.name / plan_id


def _write_files(folder: Path, outcome: PlanOutcome, base: Scenario, command: str,
                 plan_id: str) -> None:
    rows = outcome.max_rates or point_rows(outcome, outcome.points)
    (folder / "plan.csv").write_text(table_csv(rows))
    if outcome.front:
        (folder / "pareto.csv").write_text(table_csv(point_rows(outcome, outcome.front)))
    if outcome.chosen is not None:
        (folder / "plan.yaml").write_text(chosen_scenario(base, outcome.chosen).to_yaml())
    (folder / "plan.json").write_text(json.dumps(json_safe(_plan_json(outcome, command, plan_id)),
                                                 indent=2, allow_nan=False) + "\n")
    from .plan_plot import draw_pareto

    draw_pareto(folder)


def _plan_json(outcome: PlanOutcome, command: str, plan_id: str) -> dict:
    return {
        "rate_rps": outcome.rate_rps,
        "targets": [t.label() for t in outcome.targets],
        "target_limits": [{"statistic": t.statistic, "limit": t.limit} for t in outcome.targets],
        "grid_size": outcome.grid_size,
        "simulated_points": outcome.simulated_points,
        "replications": outcome.replications,
        "chosen": outcome.chosen.row(outcome.rate_rps or 0.0) if outcome.chosen else None,
        "pareto": point_rows(outcome, outcome.front),
        "max_rates": outcome.max_rates,
        "meta": {**environment_meta(), "command": command, "plan_id": plan_id,
                 "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
    }
