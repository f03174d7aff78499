"""`batchsim calibrate` and `batchsim validate`: fit a scenario to real logs, check it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click

from .cli import cli, load_scenario_arg, warn
from .errors import ScenarioError
from .units import parse_duration_s


@cli.command()
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
    from .calibration import delay_section, measure, service_table
    from .scenario import Scenario
    from .servelog import read_log
    from .service_samples import write_samples
    from .yaml_io import dump_yaml

    parsed = [read_log(path) for path in logs]
    fit = measure(parsed)
    size = max_batch_size or _largest_batch_size(parsed, fit)
    try:
        table, notes = service_table(fit.sizes, fit.occupancy_s, size, with_cv=not empirical)
    except ValueError as exc:
        raise ScenarioError(str(logs[0]), "batch_size", str(exc)) from None
    service = {"distribution": "empirical" if empirical else "lognormal", "table": table}
    samples = output.with_name(f"{output.stem}-samples.csv")
    if empirical:
        service["samples_file"] = samples.name
    overhead = {k: v for k, v in (("before", delay_section(fit.before_s)),
                                  ("after", delay_section(fit.after_s))) if v}
    if overhead:
        service["overhead"] = overhead
    first = parsed[0]
    data = {"name": _name(output.stem),
            "description": f"calibrated by batchsim calibrate from {', '.join(map(str, logs))}; "
                           f"batching.max_queue_delay includes the server's wake-up "
                           f"({fit.wakeup_s * 1e6:.0f}us)",
            "seed": 1, "run": {"duration": "30s", "warmup": "1s", "replications": 5},
            "arrival": {"process": "poisson", "rate": round(float(first.arrival_rate_rps()), 3)},
            "batching": _batching(first, size, fit.wakeup_s), "service": service}
    try:
        if empirical:
            write_samples(samples, fit.sizes, fit.occupancy_s)
        Scenario.from_dict(data, source=str(output), base_dir=output.parent)
        text = f"# {' '.join(['batchsim calibrate', *map(str, logs), '-o', str(output)])}\n"
        _write_atomic(output, text + dump_yaml(data))
    except OSError as exc:
        raise ScenarioError(str(output), None, f"cannot write: {exc.strerror}") from None
    for note in [*fit.notes, *notes]:
        click.echo(note, err=True)
    click.echo(f"batching.max_queue_delay includes the wake-up; to predict a log: batchsim "
               f"validate {output} LOG --dispatch-delay {fit.wakeup_s * 1e6:.0f}us", err=True)
    click.echo(f"written: {output}" + (f" and {samples}" if empirical else ""), err=True)


def _largest_batch_size(logs, fit) -> int:
    recorded = [log.setting("max_batch_size", int) for log in logs]
    recorded = [size for size in recorded if size]
    return max(recorded) if recorded else int(fit.sizes.max())


def _batching(log, largest: int, wakeup_s: float) -> dict:
    """The first log's batching; its delay plus the server's wake-up (see calibration)."""
    size = log.setting("max_batch_size", int) or largest
    delay = (log.setting("max_queue_delay_s") or 0.0) + wakeup_s
    return {"policy": "dynamic", "max_batch_size": min(size, largest),
            "max_queue_delay": float(f"{delay:.6g}")}


def _name(stem: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]", "-", stem).lstrip("-_.") or "calibrated"
    return name[:100]


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


@cli.command()
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
              help="Added to the log's max_queue_delay: the server's wake-up that "
                   "batchsim calibrate reports.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
def validate(scenario_file, log, overrides, arrivals, warmup, replications, keep_batching,
             dispatch_delay, fmt):
    """Predict LOG's latency with SCENARIO_FILE and compare with what LOG measured.

    Prints measured and predicted p50, p90, p95, p99 and mean latency with the
    relative error (predicted - measured) / measured. Exit code 0 whatever the
    errors; 2 on bad input.
    """
    from .servelog import read_log
    from .validation import predict, render

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
