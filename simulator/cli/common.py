"""What every batchsim command shares: exit codes, the one-line user error, the scenario
argument with `--set`, warnings, and the command line rebuilt for the record.

The command modules (`app`, `sweep`, `plan`, `profile`, `calibrate`) import from
here and never from each other; `app` holds the group and loads the others.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import click

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


class UserError(click.ClickException):
    """Printed as `error: message`, exit code 2."""

    exit_code = EXIT_BAD_INPUT

    def show(self, file=None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


def scenario_options(func):
    """The SCENARIO_FILE argument and the repeatable --set KEY=VALUE option."""
    func = click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
                        help="Override a scenario key, e.g. --set batching.max_queue_delay=2ms "
                             "(repeatable; values read as YAML).")(func)
    return click.argument("scenario_file", type=click.Path(path_type=Path))(func)


def load_scenario_arg(scenario_file: Path, overrides: tuple[str, ...]):
    """The validated scenario of SCENARIO_FILE with the --set overrides applied."""
    from ..model.overrides import parse_set_options
    from ..model.scenario import Scenario

    return Scenario.from_yaml(scenario_file, parse_set_options(overrides))


def warn(message: str) -> None:
    """`warning: message` on stderr."""
    click.echo(f"warning: {message}", err=True)


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
