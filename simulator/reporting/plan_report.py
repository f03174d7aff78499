"""The report blocks of a saved plan: targets, search effort, choice, Pareto front.

Owns what `batchsim report PLAN_DIR` says about a plan folder; `report` renders
the blocks to Markdown and HTML like those of a sweep or a run.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..model.yaml_io import load_yaml_file
from .plan_output import cell_text
from .plan_plot import draw_pareto


def plan_blocks(folder: Path) -> tuple[list[tuple], list[Path]]:
    """Report blocks for a plan folder and the figures to include."""
    plan = json.loads((folder / "plan.json").read_text())
    meta = plan.get("meta", {})
    where = f"at {plan['rate_rps']:g} req/s" if plan.get("rate_rps") else "max rate"
    blocks = [("h1", f"Plan {folder.name} {where}: {', '.join(plan['targets'])}"),
              ("h2", "Reproduce"),
              ("p", f"batchsim {meta.get('batchsim', 'unknown')}. Command:"),
              ("code", meta.get("command") or "(not recorded)"),
              ("h2", "Search"),
              ("p", f"Simulated {plan['simulated_points']} of {plan['grid_size']} grid points "
                    f"({plan['replications']} replications); every point is in plan.csv.")]
    if plan.get("max_rates"):
        blocks += [("h2", "Largest sustainable rate per configuration"),
                   _table(plan["max_rates"])]
        return blocks, []
    chosen = plan.get("chosen")
    blocks += [("h2", "Chosen"), ("p", _describe(chosen) if chosen else
                                  "No configuration in the grid meets every SLO.")]
    if plan.get("pareto"):
        blocks += [("h2", "Pareto front"), _table(plan["pareto"])]
    if (folder / "plan.yaml").is_file():
        from ..model.yaml_io import dump_yaml

        blocks += [("h2", "Chosen scenario (plan.yaml)"),
                   ("code", dump_yaml(load_yaml_file(folder / "plan.yaml")))]
    figure = draw_pareto(folder)
    return blocks, [figure] if figure else []


def _describe(row: dict) -> str:
    knobs = ", ".join(f"{k}={v}" for k, v in row.items() if "." in k and not
                      k.endswith((".estimate", ".bound")))
    return (f"{knobs}: cost {row['cost_per_hour']:.4g}/h, {row['cost_per_million']:.4g} per "
            f"million requests, headroom {row['headroom']:.0%}.")


def _table(rows: list[dict]) -> tuple:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    return ("table", columns, [[cell_text(row.get(c)) for c in columns] for row in rows])
