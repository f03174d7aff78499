"""The `batchsim` command line: thin commands over the public API.

Owns argument parsing and what reaches the terminal. Bad input of any kind
(scenario file, `--set`, trace) ends as one line `error: ...` on stderr and
exit code 2, never a traceback. Heavy imports stay inside the commands.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import click

from ..model.errors import ScenarioError

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


class UserError(click.ClickException):
    """Printed as `error: message`, exit code 2."""

    exit_code = EXIT_BAD_INPUT

    def show(self, file=None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


class _Group(click.Group):
    """Turns ScenarioError anywhere below into a UserError; imports a command's module
    (COMMAND_HOMES) only when that command is used or the commands are listed."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ScenarioError as exc:
            raise UserError(str(exc)) from None

    def get_command(self, ctx, cmd_name):
        if cmd_name not in self.commands and cmd_name in COMMAND_HOMES:
            import importlib

            importlib.import_module(f"{__package__}.{COMMAND_HOMES[cmd_name]}")
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx):
        return sorted({*self.commands, *COMMAND_HOMES})


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="batchsim")
def cli() -> None:
    """Simulate batched ML inference serving: latency percentiles, throughput, capacity."""


def _scenario_options(func):
    func = click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
                        help="Override a scenario key, e.g. --set batching.max_queue_delay=2ms "
                             "(repeatable; values read as YAML).")(func)
    return click.argument("scenario_file", type=click.Path(path_type=Path))(func)


def load_scenario_arg(scenario_file: Path, overrides: tuple[str, ...]):
    from ..model.scenario import Scenario, parse_set_options

    return Scenario.from_yaml(scenario_file, parse_set_options(overrides))


def warn(message: str) -> None:
    click.echo(f"warning: {message}", err=True)


@cli.command()
@click.argument("scenario_file", type=click.Path(path_type=Path), required=False)
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a scenario key, e.g. --set batching.max_queue_delay=2ms "
                   "(repeatable; values read as YAML).")
@click.option("--from", "from_summary", type=click.Path(path_type=Path),
              help="Re-run exactly the run saved in this summary.json (or its folder).")
@click.option("--seed", type=click.IntRange(min=0), help="Root seed (overrides the file).")
@click.option("--replications", type=click.IntRange(min=1, max=10_000),
              help="Independent replications (overrides run.replications).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="json prints exactly one JSON object on stdout.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("results"),
              show_default=True, help="Root folder of the results.")
@click.option("--no-save", is_flag=True, help="Print only; write nothing to --out.")
@click.option("--workers", type=click.IntRange(min=1),
              help="Worker processes for the replications [default: all cores for big runs].")
def run(scenario_file, overrides, from_summary, seed, replications, fmt, out, no_save,
        workers):
    """Run SCENARIO_FILE and report its latency distribution and throughput."""
    from ..experiments.runner import run as run_scenario
    from ..reporting.tables import render_summary
    from ..storage.results import write_run

    scenario = _scenario_to_run(scenario_file, overrides, from_summary)
    for note in scenario.warnings():
        warn(note)
    result = run_scenario(scenario, replications=replications, seed=seed, workers=workers)
    for note in result.summary["warnings"][len(scenario.warnings()):]:
        warn(note)
    folder = None if no_save else write_run(result, out, command=command_line())
    if fmt == "json":
        click.echo(result.to_json())
    else:
        click.echo(render_summary(result.summary, result.scenario.description))
    if folder is not None:
        click.echo(f"results: {folder}", err=(fmt == "json"))


def _scenario_to_run(scenario_file, overrides, from_summary):
    if (scenario_file is None) == (from_summary is None):
        raise click.UsageError("give exactly one of SCENARIO_FILE and --from SUMMARY")
    if from_summary is None:
        return load_scenario_arg(scenario_file, overrides)
    from ..storage.results import scenario_from_summary

    scenario = scenario_from_summary(from_summary)
    if overrides:
        from ..model.scenario import parse_set_options

        scenario = scenario.with_overrides(parse_set_options(overrides), str(from_summary))
    return scenario


@cli.command()
@_scenario_options
def check(scenario_file, overrides):
    """Validate SCENARIO_FILE and print the resolved scenario (all defaults filled in)."""
    scenario = load_scenario_arg(scenario_file, overrides)
    for note in scenario.warnings():
        warn(note)
    click.echo(scenario.to_yaml(), nl=False)


@cli.command()
def schema():
    """Print the JSON Schema of a scenario file (for editors' YAML completion)."""
    from ..model.scenario import Scenario

    document = Scenario.model_json_schema()
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["title"] = "batchsim scenario"
    click.echo(json.dumps(document, indent=2))


@cli.command()
@click.option("--requests", "n_requests", type=click.IntRange(min=1000), default=1_000_000,
              show_default=True, help="Arrivals in the standard and replicas cases.")
@click.option("--repeat", type=click.IntRange(min=0), default=3, show_default=True,
              help="Fresh `batchsim run` processes per end-to-end case (0: none).")
def bench(n_requests, repeat):
    """Time the standard case (Poisson 1000 req/s, dynamic 16/5ms, 1 server) in this
    process and end to end, against the obvious SimPy model and with 4 replicas."""
    from ..experiments.bench import run_benchmark

    click.echo(run_benchmark(n_requests, repeat))


def command_line() -> str:
    """The current command, rebuilt from its parsed parameters (re-runnable as shown)."""
    ctx = click.get_current_context()
    words = ctx.command_path.split()
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if value is None or value is False or value == () or param.name == "help":
            continue
        if isinstance(param, click.Argument):
            words.append(str(value))
        elif param.is_flag:
            words.append(param.opts[-1])
        else:
            for item in value if param.multiple else [value]:
                words += [param.opts[-1], str(item)]
    return " ".join(shlex.quote(w) for w in words)


# Commands that live in their own modules register themselves on `cli` when imported;
# `batchsim run` imports none of them (their click options cost ~20 ms to build).
COMMAND_MODULES: list[str] = ["profile", "sweep", "calibrate", "plan"]
COMMAND_HOMES: dict[str, str] = {
    "profile": "profile", "sweep": "sweep", "plot": "sweep", "report": "sweep",
    "calibrate": "calibrate", "validate": "calibrate", "plan": "plan"}
"""Command name -> its module in COMMAND_MODULES."""


def main() -> None:
    """Console-script entry point: exit 2 on bad input, 130 on Ctrl-C or SIGTERM."""
    from ..experiments.interrupts import terminate_as_interrupt

    try:
        with terminate_as_interrupt():
            code = cli.main(prog_name="batchsim", standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, click.exceptions.Abort):
        click.echo("interrupted: stopped; nothing half-written was left in the results folder",
                   err=True)
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(code if isinstance(code, int) else 0)
