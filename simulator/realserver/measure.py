"""What real per-request logs say about a server: per-batch times and the request delays.

Owns the measurements `batchsim calibrate` builds a scenario from (see
`calibration.py` for the model): each batch's occupancy (model call plus the
server's turnaround), the wake-up of a server cut from idle, the idle penalty
(fitted and taken off the occupancies), stalls (found and taken off), the lag-1
noise correlation of successive batches, and the client-side delays before and
after the server. No scenario is written here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .servelog import ServeLog

SATURATION_RATIO = 3.0
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
    batches = log.per_batch("arrival_s" if log.has("arrival_s") else "scheduled_s")
    from_idle = np.ones(batches.size.size, dtype=bool)
    if log.has("idle_arrival"):
        from_idle[:] = False
        np.logical_or.at(from_idle, batches.member, log["idle_arrival"][log.answered] == 1)
    delay = log.setting("max_queue_delay_s") or 0.0
    limit = log.setting("max_batch_size", int)
    due = batches.oldest_s + delay
    if limit:
        due = np.where(batches.size >= limit, np.minimum(due, batches.newest_s), due)
    if not log.has("arrival_s"):
        from_idle[:] = False  # no server-side arrival stamp: wake-up not measurable
    return batches.start_s, batches.finish_s, batches.size, from_idle, due


def _median(values: np.ndarray) -> float:
    return float(np.median(values)) if values.size else 0.0
