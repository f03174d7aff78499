"""`batchsim calibrate` and `batchsim validate`: fit a scenario to real logs, check it."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..model.errors import ScenarioError
from ..model.units import parse_duration_s
from .common import load_scenario_arg, warn


@click.command()
@click.argument("logs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="Scenario file to write (YAML).")
@click.option("--empirical", is_flag=True,
              help="Resample the measured batch times (writes OUTPUT-samples.csv beside it) "
                   "instead of a lognormal with per-size mean and cv.")
@click.option("--max-batch-size", type=click.IntRange(min=1),
              help="Extend the service table up to this size [default: the largest "
                   "max_batch_size the logs record, else the largest batch seen].")
def calibrate(logs, output, empirical, max_batch_size):
    """Fit service times and request overheads to real per-request LOGS.

    Writes a scenario that `batchsim run` accepts: a service table (mean and cv of
    the server's occupancy per batch size), `service.overhead.before` and `.after`
    (lognormal), the first log's arrival rate and batching settings. Give at least
    one light-load log (requests that find the server idle measure the hand-off).
    """
    from ..realserver.calibration import calibrate_logs

    fit, notes = calibrate_logs(list(logs), output, empirical, max_batch_size)
    for note in notes:
        click.echo(note, err=True)
    samples = output.with_name(f"{output.stem}-samples.csv")
    click.echo(f"written: {output}" + (f" and {samples}" if empirical else ""), err=True)


@click.command()
@click.argument("scenario_file", type=click.Path(path_type=Path))
@click.argument("log", type=click.Path(path_type=Path))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a scenario key (repeatable; values read as YAML).")
@click.option("--arrivals", type=click.Choice(["trace", "rate"]), default="trace",
              show_default=True, help="Replay the log's scheduled arrivals, or simulate "
                                      "Poisson arrivals at its measured rate.")
@click.option("--warmup", default="1s", show_default=True,
              help="Leading time (from the first arrival) left out on both sides.")
@click.option("--replications", type=click.IntRange(min=1, max=1000), default=5,
              show_default=True)
@click.option("--keep-batching", is_flag=True,
              help="Use the scenario's batching even when the log records its own.")
@click.option("--dispatch-delay", default="0", show_default=True,
              help="Added to the log's max_queue_delay (a fixed stand-in for a wake-up "
                   "the scenario has no servers.wakeup for).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
def validate(scenario_file, log, overrides, arrivals, warmup, replications, keep_batching,
             dispatch_delay, fmt):
    """Predict LOG's latency with SCENARIO_FILE and compare with what LOG measured.

    Prints measured and predicted p50, p90, p95, p99 and mean latency with the
    relative error (predicted - measured) / measured. Exit code 0 whatever the
    errors; 2 on bad input.
    """
    from ..realserver.servelog import read_log
    from ..realserver.validation import predict, render

    scenario = load_scenario_arg(scenario_file, overrides)
    parsed = read_log(log)
    warmup_s = _duration_option("--warmup", warmup)
    dispatch_s = _duration_option("--dispatch-delay", dispatch_delay)
    try:
        comparison = predict(scenario, parsed, warmup_s, arrivals, replications,
                             use_log_batching=not keep_batching, dispatch_delay_s=dispatch_s)
    except ValueError as exc:
        raise ScenarioError(str(log), None, str(exc)) from None
    if fmt == "json":
        document = {"scenario": str(scenario_file), "log": str(log), **comparison.to_dict()}
        click.echo(json.dumps(document, indent=2))
        return
    batching = comparison.settings["batching"]
    if not keep_batching and parsed.setting("max_batch_size") is not None:
        warn(f"batching from the log: max_batch_size {batching['max_batch_size']}, "
             f"max_queue_delay {batching['max_queue_delay']:g}s")
    click.echo(render(comparison, f"{scenario_file} vs {log}"))


def _duration_option(name: str, text: str) -> float:
    try:
        return parse_duration_s(text)
    except ValueError as exc:
        raise ScenarioError(name, None, str(exc), text) from None
