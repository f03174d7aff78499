"""`batchsim profile`: time a real model by batch size and write a service table."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("model_spec", metavar="MODULE:FUNCTION")
@click.option("--batch-sizes", default="1,2,4,8,16,32", show_default=True,
              help="Comma-separated batch sizes to time.")
@click.option("--input-factory", metavar="MODULE:FUNCTION",
              help="Called with a batch size, returns the model's input "
                   "[default: the model is called with the batch size itself].")
@click.option("--repeats", type=click.IntRange(min=2), default=50, show_default=True)
@click.option("--warmup", type=click.IntRange(min=0), default=5, show_default=True,
              help="Untimed calls before the timed ones, at each size.")
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="Write the profile here (YAML) instead of printing it.")
def profile(model_spec, batch_sizes, input_factory, repeats, warmup, output):
    """Time MODULE:FUNCTION (or path/file.py:FUNCTION) at each batch size.

    Prints (or writes) a `service:` section: mean and noise cv per batch size, and
    the fitted base + per_item with R². Include it in a scenario with
    `service: {table_file: profile.yaml}`.
    """
    from ..model.errors import ScenarioError
    from ..realserver.profiling import load_callable, render_profile
    from ..realserver.profiling import profile as run_profile

    sizes = _sizes(batch_sizes)
    model = load_callable(model_spec, "MODULE:FUNCTION")
    make_input = load_callable(input_factory, "--input-factory") if input_factory else int
    service = run_profile(model, make_input, sizes, repeats, warmup, spec=model_spec)
    fit = service["fit"]
    header = (f"batchsim profile {model_spec} --batch-sizes {batch_sizes} --repeats {repeats}"
              f" --warmup {warmup}\nlinear fit: base {fit['base'] * 1e3:.4g} ms + per_item "
              f"{fit['per_item'] * 1e3:.4g} ms/request, R² {fit['r2']:.4f}")
    text = render_profile(service, header)
    if output is None:
        click.echo(text, nl=False)
        return
    from ..storage.atomic import write_atomic

    try:
        write_atomic(output, text)
    except OSError as exc:
        raise ScenarioError(str(output), None, f"cannot write: {exc.strerror}") from None
    click.echo(f"{header}\nwritten: {output}", err=True)


def _sizes(text: str) -> list[int]:
    from ..model.errors import ScenarioError

    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        raise ScenarioError("--batch-sizes", None, "expected sizes such as 1,2,4,8",
                            text) from None
    if not sizes or min(sizes) < 1 or len(set(sizes)) != len(sizes):
        raise ScenarioError("--batch-sizes", None, "expected distinct sizes >= 1", text)
    return sorted(sizes)
