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
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..model.errors import ScenarioError
from .servelog import ServeLog, read_log

MIN_SAMPLES = 5
"""A batch size seen fewer times than this gets no table entry of its own."""
SAMPLES_OF_ITS_OWN = 50
"""A batch size seen this often gets its own sample mean and cv (see service_table)."""
MIN_DELAY_S = 1e-7
SATURATION_RATIO = 3.0
MIN_CORRELATION = 0.05
"""A measured noise correlation below this is left out of the scenario."""
PENALTY_TIME_CONSTANTS_S = np.geomspace(1e-4, 1.0, 49)
"""Time constants tried for the idle penalty (only those within the idle times seen)."""
STALL_FACTOR = 3.0
"""A batch (with its gap to the next) over this many times its size's median may be a stall."""
STALL_SIGMAS = 5.0
"""... and only if that is also this many robust standard deviations of the log times."""
MIN_STALLS = 3
PENALTY_Z = 3.0
"""An idle penalty is kept when its fitted `max` exceeds this many standard errors."""


@dataclass
class StallFit:
    """Rare stops of a busy server, found in the batch times and the gaps between them."""

    every_s: float             # busy time per stall
    durations_s: np.ndarray    # how much each stall added
    occupancy_s: np.ndarray    # the occupancies with the stalls taken off


@dataclass
class Fit:
    """What calibration measured, before it becomes a scenario."""

    sizes: np.ndarray          # per batch
    occupancy_s: np.ndarray    # per batch
    turnaround_s: float
    wakeup_s: float            # median
    before_s: np.ndarray
    after_s: np.ndarray
    noise_correlation: float = 0.0
    notes: list[str] = field(default_factory=list)
    network_s: np.ndarray | None = None  # client send -> arrival (no client lateness)
    wakeups_s: np.ndarray | None = None  # per batch cut from idle: start - due
    idle_penalty: tuple[float, float] | None = None  # (max, time constant) in seconds
    stalls: StallFit | None = None


def measure(logs: list[ServeLog]) -> Fit:
    """Pool the batches and request delays of every log."""
    batches = [batches_of(log) for log in logs]
    gaps = [(start[1:] - finish[:-1])[~from_idle[1:]] for start, finish, _, from_idle, _
            in batches]
    turnaround_s = _median(np.concatenate(gaps))
    wakeups = np.concatenate([np.clip(start - due, 0, None)[from_idle]
                              for start, _, _, from_idle, due in batches])
    sizes = [size for _, _, size, _, _ in batches]
    occupancy, penalty, stalls = occupancies(batches, turnaround_s)
    rho = noise_correlation(list(zip(sizes, occupancy, strict=True)))
    notes = [f"turnaround {turnaround_s * 1e6:.0f} us (median of "
             f"{sum(g.size for g in gaps)} back-to-back gaps), wake-up "
             f"{_median(wakeups) * 1e6:.0f} us (median over {wakeups.size} batches cut "
             "from idle)", _penalty_note(penalty), _stalls_note(stalls),
             *[note for note in map(_saturation_note, logs) if note],
             f"service noise correlation between successive batches {rho:.2f}"]
    after = [log["received_s"][log.answered] - log["batch_finish_s"][log.answered]
             - turnaround_s for log in logs]
    network = [log["arrival_s"][log.answered] - log["sent_s"][log.answered]
               for log in logs if log.has("arrival_s") and log.has("sent_s")]
    return Fit(np.concatenate(sizes), np.concatenate(occupancy), turnaround_s,
               _median(wakeups), np.clip(np.concatenate([_before_s(log) for log in logs]), 0,
                                         None),
               np.clip(np.concatenate(after), 0, None), rho, notes,
               np.clip(np.concatenate(network), 0, None) if network else None,
               wakeups, penalty, stalls)


def occupancies(batches: list, turnaround_s: float):
    """Per log, each batch's occupancy (model call + turnaround) with the idle penalty
    and the stalls taken off; the penalty and the stalls found (or None)."""
    sizes = np.concatenate([size for _, _, size, _, _ in batches])
    model_s = [finish - start for start, finish, _, _, _ in batches]
    idle = [idle_before_s(start, finish, from_idle, turnaround_s)
            for start, finish, _, from_idle, _ in batches]
    occupancy = [t + turnaround_s for t in model_s]
    penalty = fit_idle_penalty(sizes, np.concatenate(occupancy), np.concatenate(idle))
    if penalty is not None:
        occupancy = [t - penalty_s(penalty, i) for t, i in zip(occupancy, idle, strict=True)]
    own = [t + own_turnaround_s(start, finish, from_idle, turnaround_s)
           for t, (start, finish, _, from_idle, _) in zip(model_s, batches, strict=True)]
    stalls = find_stalls(sizes, np.concatenate(occupancy), np.concatenate(own))
    if stalls is not None:
        occupancy = _split_like(stalls.occupancy_s, occupancy)
    return occupancy, penalty, stalls


def fit_idle_penalty(sizes: np.ndarray, occupancy_s: np.ndarray,
                     idle_s: np.ndarray) -> tuple[float, float] | None:
    """(max, time constant) of `occupancy = mean(size) + max (1 - exp(-idle / tau))` by
    least squares over a grid of tau, or None when max is not over PENALTY_Z standard
    errors. Batches with an infinite idle time (a log's first) are left out."""
    known = np.isfinite(idle_s)
    sizes, occupancy_s, idle_s = sizes[known], occupancy_s[known], idle_s[known]
    if idle_s.size < 20 or not (idle_s > 0).any():
        return None
    group = np.unique(sizes, return_inverse=True)[1]
    counts = np.bincount(group)

    def centred(values):
        return values - (np.bincount(group, values) / counts)[group]

    y = centred(occupancy_s)
    longest_s = float(np.percentile(idle_s, 99))
    best = None
    for tau_s in PENALTY_TIME_CONSTANTS_S[longest_s >= PENALTY_TIME_CONSTANTS_S]:
        x = centred(-np.expm1(-idle_s / tau_s))
        sxx = float(x @ x)
        if sxx <= 0:
            continue
        slope = float(x @ y) / sxx
        sse = float(((y - slope * x) ** 2).sum())
        if best is None or sse < best[0]:
            best = (sse, slope, float(tau_s), sxx)
    if best is None:
        return None
    sse, slope, tau_s, sxx = best
    dof = max(idle_s.size - counts.size - 2, 1)
    if slope <= PENALTY_Z * math.sqrt(sse / dof / sxx):
        return None
    return slope, tau_s


def penalty_s(penalty: tuple[float, float], idle_s: np.ndarray) -> np.ndarray:
    """Extra service time of batches after `idle_s` of idle (infinite: the full max)."""
    most, tau_s = penalty
    return most * -np.expm1(-idle_s / tau_s)


def _penalty_note(penalty: tuple[float, float] | None) -> str:
    if penalty is None:
        return "idle penalty: none measurable"
    return (f"idle penalty: a batch after t idle takes {penalty[0] * 1e6:.0f} us x "
            f"(1 - exp(-t / {penalty[1] * 1e3:.3g} ms)) longer")


def noise_correlation(batches: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """Lag-1 correlation of successive batches' log service times, each centred on the
    mean log time of its size (pooled over logs; pairs taken within each log), in [0, 0.95].
    """
    all_sizes = np.concatenate([size for size, _ in batches])
    all_logs = np.log(np.maximum(np.concatenate([t for _, t in batches]), 1e-9))
    centre = {int(k): float(all_logs[all_sizes == k].mean()) for k in np.unique(all_sizes)}
    pairs = []
    for size, times in batches:
        residual = np.log(np.maximum(times, 1e-9)) - np.array([centre[int(k)] for k in size])
        pairs.append(np.column_stack([residual[:-1], residual[1:]]))
    pairs = np.concatenate(pairs)
    if pairs.shape[0] < 10 or pairs[:, 0].std() == 0 or pairs[:, 1].std() == 0:
        return 0.0
    rho = float(np.corrcoef(pairs[:, 0], pairs[:, 1])[0, 1])
    return float(np.clip(rho, 0.0, 0.95))


def _saturation_note(log: ServeLog) -> str | None:
    """A warning when the latency of a log's last quarter is far above its first's."""
    answered = log.answered
    order = np.argsort(log["scheduled_s"][answered], kind="stable")
    latency = (log["received_s"] - log["scheduled_s"])[answered][order]
    quarter = latency.size // 4
    if quarter < 10:
        return None
    first, last = np.median(latency[:quarter]), np.median(latency[-quarter:])
    if last > SATURATION_RATIO * first:
        return (f"warning: {log.path}: median latency {first * 1e3:.3g} ms in its first quarter, "
                f"{last * 1e3:.3g} ms in its last: the server looks saturated (backlog "
                "growing), so its times may not describe normal operation")
    return None


def _before_s(log: ServeLog) -> np.ndarray:
    """Scheduled send -> arrival at the server (kernel stamp), or, without `arrival_s`,
    -> enqueue for requests that reached an idle server."""
    answered = log.answered
    if log.has("arrival_s"):
        return log["arrival_s"][answered] - log["scheduled_s"][answered]
    if log.has("enqueue_s") and log.has("idle_arrival"):
        idle = answered & (log["idle_arrival"] == 1)
        return log["enqueue_s"][idle] - log["scheduled_s"][idle]
    return np.zeros(0)


def own_turnaround_s(start: np.ndarray, finish: np.ndarray, from_idle: np.ndarray,
                     turnaround_s: float) -> np.ndarray:
    """Per batch: the gap to the next batch when that one was cut straight after it (the
    server was busy all along: reading, answering, or stalled), else `turnaround_s`."""
    own = np.full(start.size, turnaround_s)
    gap = start[1:] - finish[:-1]
    busy = ~from_idle[1:]
    own[:-1][busy] = np.maximum(gap[busy], 0.0)
    return own


def find_stalls(sizes: np.ndarray, occupancy_s: np.ndarray,
                own_s: np.ndarray) -> StallFit | None:
    """Stalls: batches whose model call plus own gap to the next batch (`own_s`) is over
    STALL_FACTOR times their size's median occupancy and over STALL_SIGMAS robust standard
    deviations of the log times above it (so a noisy server's slow batches are not
    stalls). A server descheduled between two batches (27 ms seen on the testbed, with
    work queued) holds its queue as surely as a slow model call, but a lognormal with the
    cv such outliers give would have too low a body. None if fewer than MIN_STALLS."""
    median = np.empty(sizes.size)
    for size in np.unique(sizes):
        median[sizes == size] = np.median(occupancy_s[sizes == size])
    residual = np.log(np.maximum(occupancy_s, 1e-12) / median)
    sigma = 1.4826 * float(np.median(np.abs(residual - np.median(residual))))
    limit = max(math.log(STALL_FACTOR), STALL_SIGMAS * sigma)
    stalled = np.log(np.maximum(own_s, 1e-12) / median) > limit
    if stalled.sum() < MIN_STALLS:
        return None
    cleaned = np.where(stalled, median, occupancy_s)
    return StallFit(float(own_s.sum() / stalled.sum()), own_s[stalled] - median[stalled],
                    cleaned)


def _split_like(values: np.ndarray, parts: list[np.ndarray]) -> list[np.ndarray]:
    return np.split(values, np.cumsum([p.size for p in parts])[:-1])


def _stalls_note(stalls: StallFit | None) -> str:
    if stalls is None:
        return "stalls: none found"
    return (f"stalls: {stalls.durations_s.size}, one per {stalls.every_s:.3g} s of busy time, "
            f"median {np.median(stalls.durations_s) * 1e3:.3g} ms, longest "
            f"{stalls.durations_s.max() * 1e3:.3g} ms")


def idle_before_s(start: np.ndarray, finish: np.ndarray, from_idle: np.ndarray,
                  turnaround_s: float) -> np.ndarray:
    """Per batch (in start order): how long the server idled before it, beyond the
    turnaround; 0 for a batch cut straight after the previous, inf for a log's first."""
    gap = np.r_[np.inf, start[1:] - finish[:-1]]
    return np.where(from_idle, np.clip(gap - turnaround_s, 0, None), 0.0)


def batches_of(log: ServeLog):
    """Per batch in start order: start, finish, size, whether it was cut from idle
    (holds a request that reached an idle server) and when the dispatch rule made it
    due (oldest arrival + max_queue_delay, or the arrival that filled it)."""
    answered = log.answered
    ids = log["batch_id"][answered]
    batch_ids, first = np.unique(ids, return_index=True)
    index = np.searchsorted(batch_ids, ids)
    rows = np.flatnonzero(answered)[first]
    start = log["batch_start_s"][rows]
    finish = log["batch_finish_s"][rows]
    size = log["batch_size"][rows].astype(np.int64)
    from_idle = np.ones(batch_ids.size, dtype=bool)
    if log.has("idle_arrival"):
        from_idle[:] = False
        np.logical_or.at(from_idle, index, log["idle_arrival"][answered] == 1)
    arrival = log["arrival_s" if log.has("arrival_s") else "scheduled_s"][answered]
    oldest = np.full(batch_ids.size, np.inf)
    newest = np.full(batch_ids.size, -np.inf)
    np.minimum.at(oldest, index, arrival)
    np.maximum.at(newest, index, arrival)
    delay = log.setting("max_queue_delay_s") or 0.0
    limit = log.setting("max_batch_size", int)
    due = oldest + delay
    if limit:
        due = np.where(size >= limit, np.minimum(due, newest), due)
    if not log.has("arrival_s"):
        from_idle[:] = False  # no server-side arrival stamp: wake-up not measurable
    order = np.argsort(start, kind="stable")
    return start[order], finish[order], size[order], from_idle[order], due[order]


def _median(values: np.ndarray) -> float:
    return float(np.median(values)) if values.size else 0.0


def delay_section(values_s: np.ndarray) -> dict | None:
    """A lognormal `{mean, distribution, cv}` delay with the mean and the median of
    `values_s` (None if the delays are about 0).

    Measured overheads are mostly small with rare long stalls (a descheduled
    process). Matching the mean keeps the mean latency right; matching the median
    (rather than the cv, which the stalls inflate) keeps the body right. When half
    the values are 0 (or the mean is not above the median) there is no such
    lognormal: then mean and cv are matched.
    """
    if values_s.size == 0 or values_s.mean() < MIN_DELAY_S:
        return None
    mean, median = float(values_s.mean()), float(np.median(values_s))
    if median > MIN_DELAY_S and mean > median * 1.0001:
        cv = math.sqrt(math.expm1(2 * math.log(mean / median)))
    else:
        cv = float(values_s.std() / mean) if values_s.size > 1 else 0.0
    if cv < 1e-3:
        return {"mean": _round(mean)}
    return {"mean": _round(mean), "distribution": "lognormal", "cv": round(min(cv, 10.0), 4)}


def service_table(sizes: np.ndarray, occupancy_s: np.ndarray, max_batch_size: int,
                  with_cv: bool = True) -> tuple[dict[int, dict | float], list[str]]:
    """Per-size mean (and cv) of the occupancy, extended linearly up to `max_batch_size`.

    A size seen `SAMPLES_OF_ITS_OWN` times or more gets its own sample mean and cv. A
    size seen fewer times gets its median times the pooled mean/median ratio, and the
    pooled cv, of every size's times divided by that size's median: a rare stall (the
    process descheduled for tens of ms) is a property of the machine, not of the batch
    size it happened to hit, and two of them among a dozen batches of one size would
    otherwise make that size look several times slower and noisier.
    """
    medians = {int(k): float(np.median(occupancy_s[sizes == k])) for k in np.unique(sizes)
               if (sizes == k).sum() >= MIN_SAMPLES}
    if not medians:
        raise ValueError(f"no batch size was seen {MIN_SAMPLES} times or more")
    largest = max(medians)
    ratio, pooled_cv = _noise_shape(sizes, occupancy_s, medians)
    table: dict[int, dict | float] = {}
    for size, median in medians.items():
        times = occupancy_s[sizes == size]
        if times.size >= SAMPLES_OF_ITS_OWN:
            mean, cv = float(times.mean()), float(times.std() / times.mean())
        else:
            mean, cv = median * ratio, pooled_cv
        table[size] = {"mean": _round(mean), "cv": round(cv, 4)} if with_cv else _round(mean)
    notes = []
    if max_batch_size > largest:
        through = _aligned_sizes(list(medians), max_batch_size)
        base, per_item = _line(np.array(through, dtype=float),
                               np.array([float(table_mean(table[k])) for k in through]))
        mean = _round(max(base + per_item * max_batch_size, 1e-9))
        table[max_batch_size] = {"mean": mean, "cv": round(pooled_cv, 4)} if with_cv else mean
        notes.append(f"sizes above {largest} were never seen {MIN_SAMPLES} times: size "
                     f"{max_batch_size} extrapolated from the line {base * 1e3:.4g} ms + "
                     f"{per_item * 1e3:.4g} ms/request through the sizes "
                     f"{', '.join(map(str, through))}")
    return dict(sorted(table.items())), notes


def table_mean(entry: dict | float) -> float:
    return entry["mean"] if isinstance(entry, dict) else entry


def _aligned_sizes(measured: list[int], target: int) -> list[int]:
    """The measured sizes to extrapolate `target` from: those sharing its largest
    power-of-two factor (up to 8) with at least two of them, the largest half of them
    (at least two). BLAS and GPU kernels work in tiles, so sizes that fill whole tiles
    run faster than their neighbours (on the testbed, 3, 5 and 7 are slower than 4, 6
    and 8): a line through every size would overestimate an aligned target."""
    for tile in (8, 4, 2, 1):
        aligned = sorted(k for k in measured if k % tile == 0) if target % tile == 0 else []
        if len(aligned) >= 2:
            return aligned[-max(2, len(aligned) // 2):]
    return sorted(measured)


def _noise_shape(sizes: np.ndarray, occupancy_s: np.ndarray,
                 medians: dict[int, float]) -> tuple[float, float]:
    """Mean and cv of every batch's occupancy divided by the median of its size (sizes
    in `medians`)."""
    known = np.isin(sizes, list(medians))
    scale = np.array([medians[int(k)] for k in sizes[known]])
    relative = occupancy_s[known] / scale
    return float(relative.mean()), float(relative.std() / relative.mean())


def _line(sizes: np.ndarray, times_s: np.ndarray) -> tuple[float, float]:
    """Least-squares base and per-item time through (size, time) points."""
    if np.unique(sizes).size < 2:
        return float(times_s.mean()), 0.0
    per_item, base = np.polyfit(sizes, times_s, 1)
    return float(base), float(per_item)


def _round(seconds: float) -> float:
    return float(f"{seconds:.6g}")


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
        _write_atomic(output, f"# {command}\n" + dump_yaml(data))
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
        servers["stalls"] = {"every": duration_text(fit.stalls.every_s),
                             "duration": _entry_text(delay_section(fit.stalls.durations_s))}
    if fit.idle_penalty is not None:
        servers["idle_penalty"] = {"max": duration_text(fit.idle_penalty[0]),
                                   "time_constant": duration_text(fit.idle_penalty[1])}
    if servers:
        data["servers"] = servers
    return data


def _entry_text(entry: dict | float) -> dict | str:
    """A table entry or delay with its mean written as a unit string."""
    if isinstance(entry, dict):
        return {**entry, "mean": duration_text(entry["mean"])}
    return duration_text(entry)


def duration_text(seconds: float) -> str:
    """`seconds` to 6 significant digits in the unit that reads best (`953.675us`)."""
    if seconds == 0:
        return "0s"
    for unit, scale in (("us", 1e-6), ("ms", 1e-3)):
        if abs(seconds) < 1000 * scale:
            return f"{seconds / scale:.6g}{unit}"
    return f"{seconds:.6g}s"


def _largest_batch_size(logs: list[ServeLog], fit: Fit) -> int:
    recorded = [size for size in (log.setting("max_batch_size", int) for log in logs) if size]
    return max(recorded) if recorded else int(fit.sizes.max())


def _batching(log: ServeLog, largest: int) -> dict:
    """The log's batching settings."""
    size = log.setting("max_batch_size", int) or largest
    delay = log.setting("max_queue_delay_s") or 0.0
    return {"policy": "dynamic", "max_batch_size": min(size, largest),
            "max_queue_delay": duration_text(delay)}


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
