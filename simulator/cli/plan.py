"""`batchsim plan`: the cheapest configuration meeting SLOs at a load, or the max rate."""

from __future__ import annotations

from pathlib import Path

import click

from .common import command_line, load_scenario_arg, scenario_options, warn


@click.command()
@scenario_options
@click.option("--rate", type=click.FloatRange(min=0, min_open=True),
              help="Arrival rate to plan for (req/s) [default: the scenario's].")
@click.option("--slo", "slos", multiple=True, required=True, metavar="STAT=LIMIT",
              help="p99=100ms, p99.9=250ms, mean=20ms or goodput=95% (repeatable: all must "
                   "hold; the first orders the Pareto front).")
@click.option("--grid", "grid_texts", multiple=True, metavar="KEY=VALUES",
              help="Candidate values, as for sweep: servers.count=1:16:1, "
                   "batching.max_batch_size=1,8,32 [default: the file's sweep: grids].")
@click.option("--objective", type=click.Choice(["cost", "servers", "latency"]), default="cost",
              show_default=True, help="What `chosen` minimises among feasible points.")
@click.option("--max-rate", is_flag=True,
              help="Instead: the largest sustainable rate of every configuration.")
@click.option("--alpha", type=click.FloatRange(min=0.001, max=0.5), default=0.05,
              show_default=True, help="Error rate of each feasible/infeasible verdict.")
@click.option("--max-replications", type=click.IntRange(min=3, max=1000), default=20,
              show_default=True, help="Replications per point at most (3 per look first).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=Path("results"),
              show_default=True)
@click.option("--no-save", is_flag=True, help="Print only; write nothing to --out.")
def plan(scenario_file, overrides, rate, slos, grid_texts, objective, max_rate, alpha,
         max_replications, workers, out, no_save):
    """Find the configurations of SCENARIO_FILE that meet every --slo.

    A point is feasible only when the confidence bound of each statistic meets its
    limit (dropped and rejected requests count as misses); replications are added
    look by look with the error rate spent across looks. Prints the chosen plan and
    the Pareto front, and how many points were simulated out of the full grid.
    """
    from ..analysis.feasibility import parse_slo
    from ..experiments.plan_search import SearchSettings, plan_at_rate, plan_max_rate
    from ..reporting.plan_output import render_plan, write_plan

    base = load_scenario_arg(scenario_file, overrides)
    if rate is not None:
        base = base.with_overrides({"arrival.rate": rate}, "--rate")
    targets = [parse_slo(text) for text in slos]
    _check_goodput(base, targets)
    grids = _grids(base, grid_texts)
    settings = SearchSettings(alpha, 3, max_replications, workers)
    for note in [] if max_rate else base.warnings():  # max-rate changes the rate anyway
        warn(note)
    if max_rate:
        outcome = plan_max_rate(base, grids, targets, settings)
    else:
        outcome = plan_at_rate(base, grids, targets, objective, settings)
    click.echo(render_plan(outcome))
    if not no_save:
        folder = write_plan(outcome, base, out, command_line())
        click.echo(f"results: {folder}")


def _grids(base, grid_texts):
    from ..model.grid import merge_grids, parse_grid, section_grids

    cli_grids = [parse_grid(text, base) for text in grid_texts]
    return merge_grids(section_grids(base.sweep, base), cli_grids)


def _check_goodput(base, targets) -> None:
    from ..model.errors import ScenarioError

    if any(t.is_goodput for t in targets) and base.slo is None:
        raise ScenarioError("--slo", None, "a goodput target needs the scenario's slo.latency "
                            "(what counts as good)", "goodput")
