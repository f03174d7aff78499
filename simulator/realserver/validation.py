"""Comparing a scenario's predictions with a real server's log: `batchsim validate`.

Owns the measured side (latency = answer received - scheduled send, for
requests scheduled after the warm-up), the scenario the prediction runs
(the log's own arrivals replayed as a trace, or Poisson at its measured rate;
the log's batching settings when it records them) and the comparison
arithmetic: relative error = (predicted - measured) / measured.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..analysis.metrics import distribution
from ..model.scenario import Scenario
from .servelog import ServeLog

STATISTICS = ("p50", "p90", "p95", "p99", "mean")
TAIL_MARGIN_S = 1.0
"""Simulated time after the last arrival, so that every request can finish."""


@dataclass
class Comparison:
    measured_s: dict[str, float]
    predicted_s: dict[str, float]
    predicted_ci95_s: dict[str, float | None]
    measured_requests: int
    unanswered: int
    settings: dict[str, object]

    @property
    def relative_error(self) -> dict[str, float | None]:
        return {k: relative_error(self.predicted_s[k], self.measured_s[k]) for k in STATISTICS}

    def to_dict(self) -> dict:
        return {
            **self.settings,
            "measured_requests": self.measured_requests,
            "unanswered_requests": self.unanswered,
            "statistics": {k: {"measured_s": self.measured_s[k],
                               "predicted_s": self.predicted_s[k],
                               "predicted_ci95_s": self.predicted_ci95_s.get(k),
                               "relative_error": self.relative_error[k]}
                           for k in STATISTICS},
        }


def relative_error(predicted: float | None, measured: float | None) -> float | None:
    """(predicted - measured) / measured; None when either is missing or measured is 0."""
    if predicted is None or measured is None or measured == 0:
        return None
    return (predicted - measured) / measured


def measured_latency_s(log: ServeLog, warmup_s: float) -> tuple[np.ndarray, int]:
    """Latencies of the answered requests scheduled after the warm-up, and the unanswered."""
    scheduled = log["scheduled_s"]
    window = scheduled >= scheduled.min() + warmup_s
    answered = log.answered
    latency = log["received_s"][window & answered] - scheduled[window & answered]
    return latency, int((window & ~answered).sum())


def measured_statistics(latency_s: np.ndarray) -> dict[str, float]:
    stats = distribution(latency_s)
    return {k: stats[k] for k in STATISTICS}


def batching_overrides(log: ServeLog, dispatch_delay_s: float = 0.0) -> dict[str, object]:
    """The log's batching settings as scenario overrides (empty if it records none);
    `dispatch_delay_s` (the server's wake-up) is added to its max_queue_delay."""
    size = log.setting("max_batch_size", int)
    delay = log.setting("max_queue_delay_s")
    if size is None or delay is None:
        return {}
    return {"batching": {"policy": "dynamic", "max_batch_size": size,
                         "max_queue_delay": delay + dispatch_delay_s}}


def predict(scenario: Scenario, log: ServeLog, warmup_s: float, arrivals: str,
            replications: int, use_log_batching: bool = True,
            dispatch_delay_s: float = 0.0) -> Comparison:
    """Run `scenario` against `log`'s load and compare latency statistics."""
    from ..experiments.runner import run

    latency_s, unanswered = measured_latency_s(log, warmup_s)
    if latency_s.size == 0:
        raise ValueError("no answered request after the warm-up")
    scheduled = np.sort(log["scheduled_s"])
    span_s = float(scheduled[-1] - scheduled[0])
    data = scenario.to_dict()
    if use_log_batching:
        data.update(batching_overrides(log, dispatch_delay_s))
    data["run"] = {"duration": span_s + TAIL_MARGIN_S, "warmup": warmup_s,
                   "replications": replications}
    with tempfile.TemporaryDirectory(prefix="batchsim-validate-") as tmp:
        if arrivals == "trace":
            trace = Path(tmp) / "arrivals.csv"
            trace.write_text("scheduled_s\n" + "\n".join(f"{t:.9f}" for t in scheduled) + "\n")
            data["arrival"] = {"process": "trace", "path": str(trace), "column": "scheduled_s"}
        else:
            data["run"]["duration"] = span_s
            data["arrival"] = {"process": "poisson", "rate": log.arrival_rate_rps()}
        sim = Scenario.from_dict(data, source=f"{scenario.name} (validate)", base_dir=tmp)
        summary = run(sim, workers=1).summary
    settings = {"arrivals": arrivals, "warmup_s": warmup_s, "replications": replications,
                "rate_rps": log.arrival_rate_rps(), "batching": sim.batching.model_dump()}
    return Comparison(measured_statistics(latency_s),
                      {k: summary["latency"][k] for k in STATISTICS},
                      {k: (summary.get("latency_ci95") or {}).get(k) for k in STATISTICS},
                      int(latency_s.size), unanswered, settings)


def render(comparison: Comparison, title: str) -> str:
    """The comparison as a text table (milliseconds and percent)."""
    lines = [title, f"{comparison.measured_requests} measured requests "
             f"({comparison.unanswered} unanswered), arrivals: {comparison.settings['arrivals']}",
             "", f"{'latency (ms)':<14}{'measured':>10}{'predicted':>11}{'± 95% CI':>10}"
             f"{'error':>9}"]
    errors = comparison.relative_error
    for key in STATISTICS:
        ci = comparison.predicted_ci95_s.get(key)
        error = errors[key]
        lines.append(f"{key:<14}{comparison.measured_s[key] * 1e3:>10.4g}"
                     f"{comparison.predicted_s[key] * 1e3:>11.4g}"
                     f"{'' if ci is None else f'{ci * 1e3:.2g}':>10}"
                     f"{'' if error is None else f'{error:+.1%}':>9}")
    return "\n".join(lines)
