"""`batchsim sweep`: run a grid of points in parallel, resumably, into one tidy table."""

from __future__ import annotations

import os
import signal
import sys
from contextlib import contextmanager
from pathlib import Path

import click

from .common import EXIT_INTERRUPTED, command_line, load_scenario_arg, scenario_options, warn

EXIT_POINT_FAILED = 1


@click.command()
@scenario_options
@click.option("--grid", "grid_texts", multiple=True, metavar="KEY=VALUES",
              help="Swept key: 1,8,32 or start:stop:step or start:stop:log:N (repeatable; "
                   "adds to or replaces the file's sweep.grid).")
@click.option("--zip", "zip_grids", is_flag=True, help="Pair the grids instead of crossing them.")
@click.option("--replications", type=click.IntRange(min=1, max=10_000),
              help="Replications of every point (overrides run.replications).")
@click.option("--seed", type=click.IntRange(min=0), help="Root seed (overrides the file).")
@click.option("--workers", type=click.IntRange(min=1),
              help="Worker processes [default: all cores].")
@click.option("--out", type=click.Path(path_type=Path), default=Path("results"),
              show_default=True, help="Root folder of the results.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--keep-arrays", is_flag=True,
              help="Also save each point's per-request arrays (points/<id>.npz) for the "
                   "single-run plots (batchsim plot DIR --point ID).")
@click.option("--dask", "use_dask", is_flag=True,
              help="Run on a local Dask cluster (needs batchsim[cluster]).")
@click.option("--scheduler", metavar="ADDRESS",
              help="Run on the Dask cluster at this address, e.g. tcp://host:8786.")
def sweep(scenario_file, overrides, grid_texts, zip_grids, replications, seed, workers, out,
          quiet, keep_arrays, use_dask, scheduler):
    """Run SCENARIO_FILE at every point of its grids; write sweep.csv.

    Re-running the same command after an interrupt computes only the missing points.
    """
    from ..experiments.sweep_points import resolve_sweep
    from ..model.grid import merge_grids, parse_grid, section_grids

    base = load_scenario_arg(scenario_file, overrides)
    updates = {} if replications is None else {"run.replications": replications}
    if seed is not None:
        updates["seed"] = seed
    if updates:
        base = base.with_overrides(updates, str(scenario_file))
    file_grids = section_grids(base.sweep, base, str(scenario_file))
    cli_grids = [parse_grid(text, base) for text in grid_texts]
    grids = merge_grids(file_grids, cli_grids)
    if not grids:
        raise click.UsageError("nothing to sweep: give --grid KEY=VALUES or a sweep: section")
    resolved = resolve_sweep(base, grids, zip_grids or bool(base.sweep and base.sweep.zip), out)
    for note in base.warnings():
        warn(note)
    _run_and_report(resolved, workers or os.cpu_count() or 1, quiet, keep_arrays, use_dask,
                    scheduler)


def _run_and_report(points, workers, quiet, keep_arrays, use_dask, scheduler):
    from ..experiments.sweep import run_sweep

    total, missing = len(points.points), len(points.missing())
    click.echo(f"sweep: {total} points ({total - missing} already done) -> {points.folder}",
               err=True)
    command = command_line()
    client = _client(use_dask, scheduler, workers)
    try:
        with _progress(total, total - missing, quiet) as tick, _sigterm_as_interrupt():
            outcome = run_sweep(points, workers, tick, command, client, keep_arrays)
    except KeyboardInterrupt:
        done = total - len(points.missing())
        click.echo(f"\ninterrupted: {done} of {total} points saved in {points.folder}; "
                   f"run the same command again to resume:\n  {command}", err=True)
        sys.exit(EXIT_INTERRUPTED)
    finally:
        if client is not None:
            client.close()
    _report(points, outcome, command)


def _report(points, outcome, command):
    for point in points.points:
        if point.point_id in outcome.failed:
            click.echo(f"error: point {point.point_id} ({point.label()}) failed: "
                       f"{outcome.failed[point.point_id]}", err=True)
    if outcome.failed:
        click.echo(f"{len(outcome.failed)} point(s) failed; the others are saved in "
                   f"{points.folder}. Re-run to retry them:\n  {command}", err=True)
        sys.exit(EXIT_POINT_FAILED)
    click.echo(f"results: {outcome.csv_path}")


def _client(use_dask, scheduler, workers):
    if not (use_dask or scheduler):
        return None
    from ..experiments.executors import dask_client

    try:
        return dask_client(scheduler, workers)
    except ImportError as exc:
        from .common import UserError

        raise UserError(str(exc)) from None


@contextmanager
def _progress(total: int, done: int, quiet: bool):
    """A tqdm bar on a terminal (points done / total, elapsed, ETA); silent otherwise."""
    from tqdm import tqdm

    disable = quiet or not sys.stderr.isatty()
    with tqdm(total=total, initial=done, unit="point", disable=disable, file=sys.stderr,
              dynamic_ncols=True) as bar:
        yield lambda: bar.update(1)


@contextmanager
def _sigterm_as_interrupt():
    """SIGTERM stops a sweep like Ctrl-C: saved points kept, workers ended."""
    def handler(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@click.command()
@click.argument("result_dir", type=click.Path(path_type=Path))
@click.option("--kind", "kinds", multiple=True,
              type=click.Choice(["latency", "throughput", "tradeoff", "utilisation", "cdf",
                                 "batches", "timeline"]),
              help="Plot kind (repeatable) [default: every kind the folder supports: "
                   "latency, throughput, tradeoff, utilisation for a sweep; cdf, batches, "
                   "timeline for a run].")
@click.option("--x", "x_key", metavar="KEY", help="x column of a sweep [default: the load].")
@click.option("--y", "y_metric", metavar="METRIC",
              help="Metric column instead of the kind's default, e.g. wait.p99.")
@click.option("--hue", "hue_key", metavar="KEY",
              help="Column with one curve per value [default: the other swept key].")
@click.option("--format", "fmt", type=click.Choice(["png", "svg", "pdf"]), default="png",
              show_default=True)
@click.option("--dpi", type=click.IntRange(min=30, max=600), default=110, show_default=True,
              help="Resolution of PNG figures.")
@click.option("--point", "point_id", metavar="ID",
              help="A sweep's point (e.g. p00003) for the single-run kinds; needs a sweep run "
                   "with --keep-arrays for cdf and timeline.")
def plot(result_dir, kinds, x_key, y_metric, hue_key, fmt, dpi, point_id):
    """Draw figures of a saved sweep or run into RESULT_DIR (nothing is re-simulated)."""
    from ..reporting.plots import default_kinds, make_plot
    from ..storage.saved import load_point, load_result

    result = load_point(result_dir, point_id) if point_id else load_result(result_dir)
    for kind in kinds or default_kinds(result):
        path = make_plot(result, kind, result_dir, fmt, x_key, y_metric, hue_key, dpi)
        click.echo(str(path))


@click.command()
@click.argument("result_dir", type=click.Path(path_type=Path))
def report(result_dir):
    """Write report.md and report.html (figures included) for a saved sweep or run."""
    from ..reporting.report import write_report

    for path in write_report(result_dir):
        click.echo(str(path))
