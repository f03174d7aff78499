"""The Pareto figure of a plan: cost per hour against the SLO statistic's bound.

Owns one matplotlib figure. Every simulated point is drawn (feasible as
filled dots, infeasible as crosses at the statistic's estimate), the Pareto
front is joined by a line, the chosen point ringed and the SLO limit drawn.
"""

from __future__ import annotations

import math
from pathlib import Path

from .feasibility import FEASIBLE
from .plan_search import PlanOutcome


def pareto_plot(outcome: PlanOutcome, path: Path, dpi: int = 110) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    label, target = outcome.label, outcome.targets[0]
    scale = 1.0 if target.is_goodput else 1e3
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=dpi)
    for verdict, marker, name in ((FEASIBLE, "o", "meets the SLO"),
                                  ("infeasible", "x", "misses the SLO")):
        points = [p for p in outcome.points if p.verdict == verdict and label in p.estimates
                  and math.isfinite(p.bounds.get(label, math.inf))]
        ax.scatter([p.cost_per_hour for p in points],
                   [p.bounds[label] * scale for p in points], marker=marker, label=name,
                   alpha=0.7)
    front = outcome.front
    ax.plot([p.cost_per_hour for p in front], [p.bounds[label] * scale for p in front],
            "-", color="black", linewidth=1, label="Pareto front")
    if outcome.chosen is not None:
        ax.scatter([outcome.chosen.cost_per_hour], [outcome.chosen.bounds[label] * scale],
                   s=180, facecolors="none", edgecolors="red", label="chosen")
    ax.axhline(target.limit * scale, color="grey", linestyle="--", label=f"SLO {label}")
    ax.set_xlabel("cost per hour")
    unit = "share of offered" if target.is_goodput else "ms"
    ax.set_ylabel(f"{target.statistic} bound ({unit})")
    ax.set_title(f"plan at {outcome.rate_rps:g} req/s")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
