"""The Pareto figure of a saved plan: cost per hour against the SLO statistic's bound.

Owns one matplotlib figure, drawn from the plan folder's files only (so
`batchsim plan` and `batchsim report` draw the same picture). Every simulated
point is drawn (meets the SLO: dots, misses: crosses), the Pareto front is
joined by a line, the chosen point ringed and the SLO limit drawn.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path


def _rows(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _number(text) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def draw_pareto(folder: Path, dpi: int = 110, fmt: str = "png") -> Path | None:
    """Draw `pareto.<fmt>` from plan.json/plan.csv/pareto.csv; None for a max-rate plan."""
    folder = Path(folder)
    plan = json.loads((folder / "plan.json").read_text())
    if plan.get("max_rates") or not plan.get("targets"):
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    first = plan["target_limits"][0]
    goodput = first["statistic"] == "goodput"
    scale, column = (1.0 if goodput else 1e3), f"{plan['targets'][0]}.bound"
    points = _rows(folder / "plan.csv")
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=dpi)
    for verdict, marker, name in (("feasible", "o", "meets the SLO"),
                                  ("infeasible", "x", "misses the SLO")):
        chosen = [(_number(r["cost_per_hour"]), _number(r.get(column)) * scale)
                  for r in points if r["verdict"] == verdict]
        chosen = [(x, y) for x, y in chosen if math.isfinite(y)]
        ax.scatter([x for x, _ in chosen], [y for _, y in chosen], marker=marker, label=name,
                   alpha=0.7)
    front = _rows(folder / "pareto.csv")
    ax.plot([_number(r["cost_per_hour"]) for r in front],
            [_number(r[column]) * scale for r in front], "-", color="black", linewidth=1,
            label="Pareto front")
    if plan.get("chosen"):
        ax.scatter([plan["chosen"]["cost_per_hour"]], [plan["chosen"][column] * scale], s=180,
                   facecolors="none", edgecolors="red", label="chosen")
    ax.axhline(first["limit"] * scale, color="grey", linestyle="--",
               label=f"SLO {plan['targets'][0]}")
    ax.set_xlabel("cost per hour")
    unit = "share of offered" if goodput else "ms"
    ax.set_ylabel(f"{first['statistic']} confidence bound ({unit})")
    ax.set_title(f"plan at {plan['rate_rps']:g} req/s: cost against {first['statistic']}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = folder / f"pareto.{fmt}"
    fig.savefig(path)
    plt.close(fig)
    return path
