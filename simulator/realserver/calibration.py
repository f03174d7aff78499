"""Fitting a scenario to real per-request logs: `batchsim calibrate`.

Owns how log stamps become scenario parameters (the README's "Predicting a
real server" section explains the model):

- occupancy of a batch = `batch_finish - batch_start` (the model call) plus the
  server's turnaround, the median gap between a batch's finish and the start
  of the next one when that batch was cut straight away from requests read
  during the previous (reading new requests, sending the answer);
- `service.table`: mean and cv of the occupancy per batch size: a size's own
  sample mean and cv once seen `SAMPLES_OF_ITS_OWN` times, else its median
  scaled by the noise shape pooled over every size (a rare stall must not make
  one rarely seen size look slow); sizes seen fewer than `MIN_SAMPLES` times are
  interpolated by the table; sizes above the largest seen, up to
  `max_batch_size`, come from a line through the largest measured sizes that
  share the target's tile alignment (see `_aligned_sizes`);
  or, with `empirical`, the occupancies themselves in a samples file;
- `service.overhead.before`: from the client's scheduled send to the request's
  arrival at the server (`arrival_s`, a kernel stamp; without it, to the
  batcher reading it, for requests that reached an idle server only);
- `servers.wakeup`: how long after the dispatch rule made it due a batch cut
  from idle starts (the idle server's wake-up; requests arriving meanwhile join
  it): lognormal with the measured mean and median, as the overheads;
- `servers.idle_penalty`: how much longer a batch takes after the server idled
  for t, `max x (1 - exp(-t / time_constant))` (cold caches, CPU sleep states),
  fitted by least squares to the occupancies around their size's mean, with t
  the gap before the batch minus the turnaround; kept when the fitted `max` is
  over three standard errors, and then taken off the occupancies the table and
  the samples are built from (they describe a warm server);
- `service.noise_correlation`: lag-1 correlation of successive batches' log
  times around their size's mean (servers have slow and fast spells; iid noise
  would under-predict the tail once batches queue);
- `service.overhead.after`: from the model's finish to the client reading the
  answer, minus the turnaround already counted in the occupancy (clipped at 0).
Delays are lognormal with the measured mean and median (see `delay_section`).

The measurements are in `measure.py`, the service table and delay sections in
`service_fit.py`; this module writes the scenario.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..model.errors import ScenarioError
from ..model.units import format_duration
from ..storage.atomic import write_atomic
from .measure import Fit, measure
from .servelog import ServeLog, read_log
from .service_fit import delay_section, service_table

MIN_CORRELATION = 0.05
"""A measured noise correlation below this is left out of the scenario."""


def calibrate_logs(paths: list[Path], output: Path, empirical: bool = False,
                   max_batch_size: int | None = None) -> tuple[Fit, list[str]]:
    """Fit `paths` and write the scenario `output` (and its samples file with
    `empirical`); returns the fit and notes for the user. Bad logs raise ScenarioError."""
    from ..model.scenario import Scenario
    from ..model.yaml_io import dump_yaml
    from ..workload.service_samples import write_samples

    logs = [read_log(path) for path in paths]
    fit = measure(logs)
    size = max_batch_size or _largest_batch_size(logs, fit)
    try:
        table, notes = service_table(fit.sizes, fit.occupancy_s, size, with_cv=not empirical)
    except ValueError as exc:
        raise ScenarioError(str(paths[0]), "batch_size", str(exc)) from None
    samples = output.with_name(f"{output.stem}-samples.csv")
    data = {"name": _name(output.stem),
            "description": f"calibrated by batchsim calibrate from {', '.join(map(str, paths))}",
            **scenario_data(fit, table, logs, size, samples.name if empirical else None)}
    try:
        if empirical:
            write_samples(samples, fit.sizes, fit.occupancy_s)
        Scenario.from_dict(data, source=str(output), base_dir=output.parent)
        command = " ".join(["batchsim calibrate", *map(str, paths), "-o", str(output)])
        write_atomic(output, f"# {command}\n" + dump_yaml(data))
    except OSError as exc:
        raise ScenarioError(str(output), None, f"cannot write: {exc.strerror}") from None
    return fit, [*fit.notes, *notes]


def scenario_data(fit: Fit, table: dict, logs: list[ServeLog], max_batch_size: int,
                  samples_name: str | None) -> dict:
    """The fitted scenario as a mapping, durations as unit strings (`953.675us`)."""
    service = {"distribution": "lognormal" if samples_name is None else "empirical",
               "table": {k: _entry_text(v) for k, v in table.items()}}
    if samples_name is None and fit.noise_correlation >= MIN_CORRELATION:
        service["noise_correlation"] = round(fit.noise_correlation, 3)
    if samples_name is not None:
        service["samples_file"] = samples_name
    overhead = {k: _entry_text(v) for k, v in (("before", delay_section(fit.before_s)),
                                               ("after", delay_section(fit.after_s))) if v}
    if overhead:
        service["overhead"] = overhead
    data = {"seed": 1, "run": {"duration": "30s", "warmup": "1s", "replications": 5},
            "arrival": {"process": "poisson",
                        "rate": round(float(logs[0].arrival_rate_rps()), 3)},
            "batching": _batching(logs[0], max_batch_size), "service": service}
    servers = {}
    wakeup = delay_section(fit.wakeups_s) if fit.wakeups_s is not None else None
    if wakeup:
        servers["wakeup"] = _entry_text(wakeup)
    if fit.stalls is not None:
        servers["stalls"] = {"every": _text(fit.stalls.every_s),
                             "duration": _entry_text(delay_section(fit.stalls.durations_s))}
    if fit.idle_penalty is not None:
        servers["idle_penalty"] = {"max": _text(fit.idle_penalty[0]),
                                   "time_constant": _text(fit.idle_penalty[1])}
    if servers:
        data["servers"] = servers
    return data


def _text(seconds: float) -> str:
    """`seconds` to 6 significant digits in the unit that reads best (`953.675us`)."""
    return format_duration(seconds, digits=6)


def _entry_text(entry: dict | float) -> dict | str:
    """A table entry or delay with its mean written as a unit string."""
    if isinstance(entry, dict):
        return {**entry, "mean": _text(entry["mean"])}
    return _text(entry)


def _largest_batch_size(logs: list[ServeLog], fit: Fit) -> int:
    recorded = [size for size in (log.setting("max_batch_size", int) for log in logs) if size]
    return max(recorded) if recorded else int(fit.sizes.max())


def _batching(log: ServeLog, largest: int) -> dict:
    """The log's batching settings."""
    size = log.setting("max_batch_size", int) or largest
    delay = log.setting("max_queue_delay_s") or 0.0
    return {"policy": "dynamic", "max_batch_size": min(size, largest),
            "max_queue_delay": _text(delay)}


def _name(stem: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]", "-", stem).lstrip("-_.") or "calibrated"
    return name[:100]
