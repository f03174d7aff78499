"""Figures from saved results: sweep curves and single-run distributions (matplotlib).

Owns every plot kind and its look: axes with units, readable at report size,
legends naming the knob of each curve, saturated sweep points drawn hollow.
Sweep kinds read `sweep.csv`; run kinds read a run folder's arrays. Nothing
here simulates.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..model.errors import ScenarioError  # noqa: E402
from ..storage.saved import SavedRun, SavedSweep  # noqa: E402
from .timeline import batch_size_bins, queue_steps, time_weighted_bins  # noqa: E402

FIGSIZE = (7.0, 4.2)
PERCENTILES = (("p50", ":"), ("p95", "--"), ("p99", "-"))
SWEEP_KINDS = ("latency", "throughput", "tradeoff", "utilisation")
RUN_KINDS = ("cdf", "batches", "timeline")
FORMATS = ("png", "svg", "pdf")

plt.rcParams.update({"font.size": 10, "axes.grid": True, "grid.alpha": 0.3,
                     "legend.fontsize": 8, "figure.dpi": 100})


def default_kinds(result) -> tuple[str, ...]:
    return SWEEP_KINDS if isinstance(result, SavedSweep) else RUN_KINDS


def make_plot(result, kind: str, out_dir: Path, fmt: str = "png", x: str | None = None,
              y: str | None = None, hue: str | None = None, dpi: int = 110) -> Path:
    """Draw `kind` of `result` and save it as `out_dir/<kind>.<fmt>`; return the path."""
    if isinstance(result, SavedSweep):
        if kind not in SWEEP_KINDS:
            raise ScenarioError(str(result.folder), "--kind", f"{kind!r} needs a run folder; a "
                                f"sweep has: {', '.join(SWEEP_KINDS)}")
        axes_x, axes_hue = sweep_axes(result, x, hue)
        fig = SWEEP_PLOTS[kind](result, axes_x, y, axes_hue)
    else:
        if kind not in RUN_KINDS:
            raise ScenarioError(str(result.folder), "--kind", f"{kind!r} needs a sweep folder; "
                                f"a run has: {', '.join(RUN_KINDS)}")
        fig = RUN_PLOTS[kind](result)
    path = Path(out_dir) / f"{getattr(result, 'stem', '')}{kind}.{fmt}"
    fig.tight_layout()
    fig.savefig(path, format=fmt, dpi=dpi)
    plt.close(fig)
    return path


# -- sweeps ---------------------------------------------------------------------------
def sweep_axes(sweep: SavedSweep, x: str | None, hue: str | None) -> tuple[str, str | None]:
    """The x column (default: the swept load key) and the hue column (another swept key)."""
    columns = set(sweep.rows[0]) if sweep.rows else set()
    for name, value in (("--x", x), ("--hue", hue)):
        if value is not None and value not in columns:
            raise ScenarioError(str(sweep.folder), name, f"no column {value!r} in sweep.csv "
                                f"(swept: {', '.join(sweep.swept)})")
    if x is None:
        loads = [k for k in sweep.swept if k.startswith("arrival.")]
        x = (loads or sweep.swept or ["offered_rate"])[0]
    if hue is None:
        others = [k for k in sweep.swept if k != x]
        hue = others[0] if others else None
    return x, hue


def _groups(sweep: SavedSweep, x: str, hue: str | None):
    """(label, rows sorted by x) per hue value."""
    values = list(dict.fromkeys(r.get(hue) for r in sweep.rows)) if hue else [None]
    for value in values:
        rows = [r for r in sweep.rows if hue is None or r.get(hue) == value]
        rows.sort(key=lambda r: sweep.column(x, [r])[0])
        yield (f"{_short(hue)}={value}" if hue else ""), rows


def _curve(ax, sweep, rows, x, y, scale, color, style, label, ci=None):
    xs, ys = sweep.column(x, rows), sweep.column(y, rows) * scale
    ax.plot(xs, ys, style, color=color, label=label, lw=1.6)
    saturated = np.array([bool(r.get("saturated")) for r in rows])
    ax.scatter(xs[~saturated], ys[~saturated], color=color, s=14, zorder=3)
    ax.scatter(xs[saturated], ys[saturated], facecolors="none", edgecolors=color, s=30,
               zorder=3)
    if ci:
        half = sweep.column(ci, rows) * scale
        ok = np.isfinite(half)
        ax.fill_between(xs[ok], (ys - half)[ok], (ys + half)[ok], color=color, alpha=0.15, lw=0)


def _x_label(x: str) -> str:
    return AXIS_LABELS.get(x, x)


def _colors(n: int):
    cmap = plt.get_cmap("viridis" if n > 6 else "tab10")
    return [cmap(i / max(n - 1, 1)) if n > 6 else cmap(i) for i in range(n)]


def _finish(ax, title: str, saturated_note: bool) -> None:
    ax.set_title(title)
    handles, labels = ax.get_legend_handles_labels()
    if saturated_note:
        handles.append(plt.Line2D([], [], ls="", marker="o", mfc="none", mec="grey"))
        labels.append("hollow: saturated")
    if labels:
        ax.legend(handles, labels, loc="best")


def _any_saturated(sweep: SavedSweep) -> bool:
    return any(bool(r.get("saturated")) for r in sweep.rows)


def plot_latency(sweep: SavedSweep, x: str, y: str | None, hue: str | None):
    """Latency percentiles (or --y) against load with 95% CI bands and the SLO line.

    Past a setting's first saturated point its latencies only measure how long
    the run lasted, so that curve stops there.
    """
    fig, ax = plt.subplots(figsize=FIGSIZE)
    groups = [(label, _until_saturated(rows)) for label, rows in _groups(sweep, x, hue)]
    metrics = [(y, "-")] if y else [(f"latency.{p}", s) for p, s in PERCENTILES]
    colors = _colors(len(groups))
    for (_, rows), color in zip(groups, colors, strict=True):
        for metric, style in metrics:
            scale = 1e3 if _is_seconds(metric) else 1.0
            _curve(ax, sweep, rows, x, metric, scale, color, style, None, _ci_column(metric))
    handles = [plt.Line2D([], [], color=c, lw=2) for c in colors if len(groups) > 1]
    labels = [label for label, _ in groups if len(groups) > 1]
    handles += [plt.Line2D([], [], color="k", ls=s) for _, s in metrics]
    labels += [m.split(".")[-1] if not y else m for m, _ in metrics]
    if sweep.slo_latency_s and not y:
        ax.axhline(sweep.slo_latency_s * 1e3, color="crimson", lw=1, ls="-.")
        handles.append(plt.Line2D([], [], color="crimson", lw=1, ls="-."))
        labels.append(f"SLO: p{sweep.slo_percentile:g} ≤ {sweep.slo_latency_s * 1e3:g} ms")
    ax.set_xlabel(_x_label(x))
    ax.set_ylabel(_y_label(y) if y else "latency (ms)")
    if not y:
        calm = [r for _, rows in groups for r in rows if not r.get("saturated")]
        top = np.nanmax(sweep.column("latency.p99", calm)) * 1e3 if calm else 1.0
        ax.set_ylim(0, max(top * 1.15, 2 * (sweep.slo_latency_s or 0) * 1e3))
    ax.set_title("Latency vs load (bands: 95% CI)")
    if _any_saturated(sweep):
        handles.append(plt.Line2D([], [], ls="", marker="o", mfc="none", mec="grey"))
        labels.append("hollow: saturated")
    ax.legend(handles, labels, loc="upper left")
    return fig


def _until_saturated(rows: list[dict]) -> list[dict]:
    for i, row in enumerate(rows):
        if row.get("saturated"):
            return rows[: i + 1]
    return rows


def plot_throughput(sweep: SavedSweep, x: str, y: str | None, hue: str | None):
    """Achieved throughput against offered rate, with each setting's capacity line."""
    fig, ax = plt.subplots(figsize=FIGSIZE)
    groups = list(_groups(sweep, x, hue))
    x = "offered_rate" if x.startswith("arrival.") else x
    for (label, rows), color in zip(groups, _colors(len(groups)), strict=True):
        _curve(ax, sweep, rows, x, y or "throughput", 1.0, color, "-", label or "throughput",
               "throughput_ci95")
        capacity = np.nanmax(sweep.column("capacity_rps", rows))
        if math.isfinite(capacity):
            ax.axhline(capacity, color=color, ls="--", lw=1,
                       label=f"capacity {label}: {capacity:.4g} req/s".replace("  ", " "))
    xs = np.array([np.nanmin(sweep.column(x)), np.nanmax(sweep.column(x))])
    if x == "offered_rate":
        ax.plot(xs, xs, color="grey", lw=0.8, ls=":", label="throughput = offered")
    ax.set_xlabel(_x_label(x))
    ax.set_ylabel(_y_label(y) if y else "throughput (req/s)")
    _finish(ax, "Throughput vs offered load", _any_saturated(sweep))
    return fig


def plot_tradeoff(sweep: SavedSweep, x: str, y: str | None, hue: str | None):
    """Tail latency against achieved throughput, one curve per setting (the hue)."""
    fig, ax = plt.subplots(figsize=FIGSIZE)
    metric = y or "latency.p99"
    groups = list(_groups(sweep, x, hue))
    for (label, rows), color in zip(groups, _colors(len(groups)), strict=True):
        rows = sorted(rows, key=lambda r: sweep.column("throughput", [r])[0])
        scale = 1e3 if _is_seconds(metric) else 1.0
        _curve(ax, sweep, rows, "throughput", metric, scale, color, "-", label or metric)
    if sweep.slo_latency_s and metric.startswith("latency."):
        ax.axhline(sweep.slo_latency_s * 1e3, color="crimson", lw=1, ls="-.", label="SLO")
    ax.set_yscale("log")
    ax.set_xlabel("achieved throughput (req/s)")
    ax.set_ylabel(_y_label(metric))
    _finish(ax, "Latency-throughput trade-off", _any_saturated(sweep))
    return fig


def plot_utilisation(sweep: SavedSweep, x: str, y: str | None, hue: str | None):
    """Mean batch size and server utilisation against load."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(FIGSIZE[0] * 1.3, FIGSIZE[1]))
    groups = list(_groups(sweep, x, hue))
    for (label, rows), color in zip(groups, _colors(len(groups)), strict=True):
        _curve(left, sweep, rows, x, "batch_size.mean", 1.0, color, "-", label or None,
               "batch_size_ci95")
        _curve(right, sweep, rows, x, "utilization", 100.0, color, "-", label or None,
               "utilization_ci95")
    left.set_ylabel("mean batch size (requests)")
    right.set_ylabel("server utilisation (%)")
    right.set_ylim(0, 105)
    for ax in (left, right):
        ax.set_xlabel(_x_label(x))
    _finish(left, "Batch size vs load", False)
    _finish(right, "Utilisation vs load", _any_saturated(sweep))
    return fig


# -- single runs ----------------------------------------------------------------------
def _latencies_s(run: SavedRun) -> np.ndarray:
    a = run.arrays()
    warmup = a["warmup_s"][a["replication"]]
    keep = (a["outcome"] == 1) & (a["arrival_s"] >= warmup)
    return np.sort(a["finish_s"][keep] - a["arrival_s"][keep])


def plot_cdf(run: SavedRun):
    """Latency CDF and log-scale tail (CCDF), mean and percentiles marked."""
    latency_ms = _latencies_s(run) * 1e3
    if latency_ms.size == 0:
        raise ScenarioError(str(run.folder), None, "no completed request to plot")
    fig, (left, right) = plt.subplots(1, 2, figsize=(FIGSIZE[0] * 1.3, FIGSIZE[1]))
    share = np.arange(1, latency_ms.size + 1) / latency_ms.size
    left.plot(latency_ms, share, color="C0", lw=1.6)
    right.plot(latency_ms, 1 - share + 1 / latency_ms.size, color="C0", lw=1.6)
    right.set_yscale("log")
    marks = {"mean": float(latency_ms.mean()),
             **{f"p{q:g}": float(np.percentile(latency_ms, q)) for q in (50, 95, 99)}}
    for (name, value), color in zip(marks.items(), ("k", "C2", "C1", "C3"), strict=True):
        for ax in (left, right):
            ax.axvline(value, color=color, ls="--", lw=1, label=f"{name} {value:.3g} ms")
    left.set_ylabel("fraction of requests ≤ latency")
    right.set_ylabel("fraction of requests > latency (log)")
    for ax in (left, right):
        ax.set_xlabel("latency (ms)")
    _finish(left, "Latency CDF", False)
    _finish(right, "Tail (CCDF)", False)
    return fig


def plot_batches(run: SavedRun):
    """Batch-size histogram, and utilisation of each server."""
    a = run.arrays()
    fig, (left, right) = plt.subplots(1, 2, figsize=(FIGSIZE[0] * 1.3, FIGSIZE[1]))
    histogram = run.summary.get("batch_size", {}).get("histogram", {})
    sizes = np.array([int(k) for k in histogram])
    counts = np.array(list(histogram.values()), dtype=float)
    if sizes.size:
        left.bar(sizes, counts / counts.sum() * 100, width=0.8, color="C0")
    left.set_xlabel("batch size (requests)")
    left.set_ylabel("share of batches (%)")
    _finish(left, f"Batch sizes (mean {run.summary['batch_size']['mean'] or 0:.2f})", False)
    busy = _busy_share_per_server(a)
    right.bar(np.arange(busy.size), busy * 100, color="C1", width=0.6)
    right.set_xticks(np.arange(busy.size))
    right.set_xlim(-0.75, busy.size - 0.25)
    right.set_xlabel("server")
    right.set_ylabel("busy time (%)")
    right.set_ylim(0, 105)
    _finish(right, f"Utilisation (mean {run.summary['utilization']:.1%})", False)
    return fig


def _busy_share_per_server(a: dict) -> np.ndarray:
    servers = int(a["batch_server"].max()) + 1 if a["batch_server"].size else 1
    end_s = a["end_s"][a["batch_replication"]]
    finish = np.where(np.isnan(a["batch_finish_s"]), end_s, np.minimum(a["batch_finish_s"], end_s))
    busy = np.bincount(a["batch_server"], weights=finish - a["batch_start_s"], minlength=servers)
    return busy / float(a["end_s"].sum())


def plot_timeline(run: SavedRun, replication: int = 0, bins: int = 200):
    """Queue length and batch size over simulated time (time-weighted bin means)."""
    a = run.arrays()
    end_s = float(a["end_s"][replication])
    timeout_s = (run.summary.get("meta", {}).get("scenario", {}).get("queue") or {}).get("timeout")
    from ..model.units import parse_duration_s

    times, levels = queue_steps(a, replication, parse_duration_s(timeout_s) if timeout_s else None)
    centres, queue = time_weighted_bins(times, levels, end_s, bins)
    _, sizes = batch_size_bins(a, replication, end_s, bins)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(FIGSIZE[0], FIGSIZE[1] * 1.3), sharex=True)
    top.plot(centres, queue, color="C0", lw=1.2)
    top.set_ylabel("queue length (requests)")
    bottom.plot(centres, sizes, color="C1", lw=1.2, label="mean batch size")
    if "batch_cap" in a:  # the adaptive policy: its cap over time
        _, caps = batch_size_bins(a, replication, end_s, bins, "batch_cap")
        bottom.plot(centres, caps, color="C2", lw=1.2, ls="--", label="adaptive cap (mean)")
        bottom.legend(loc="best", fontsize="small")
    bottom.set_ylabel("batch size")
    bottom.set_xlabel("simulated time (s)")
    warmup_s = float(a["warmup_s"][replication])
    for ax in (top, bottom):
        if warmup_s > 0:
            ax.axvspan(0, warmup_s, color="grey", alpha=0.15, label="warm-up (excluded)")
    _finish(top, f"Queue and batches over time (replication {replication}, "
                 f"{end_s / bins:.3g} s bins)", False)
    return fig


SWEEP_PLOTS: dict[str, Callable] = {"latency": plot_latency, "throughput": plot_throughput,
                                    "tradeoff": plot_tradeoff, "utilisation": plot_utilisation}
RUN_PLOTS: dict[str, Callable] = {"cdf": plot_cdf, "batches": plot_batches,
                                  "timeline": plot_timeline}

AXIS_LABELS = {
    "arrival.rate": "offered load (req/s)", "offered_rate": "offered load (req/s)",
    "throughput": "achieved throughput (req/s)", "offered_load": "offered load / capacity",
    "batching.max_batch_size": "max batch size", "servers.count": "servers",
    "batching.max_queue_delay": "max queue delay (s)",
}


def _short(key: str) -> str:
    return key.split(".")[-1]


def _is_seconds(metric: str) -> bool:
    return metric.split(".")[0] in ("latency", "wait", "latency_ci95", "wait_ci95")


def _ci_column(metric: str) -> str | None:
    group, _, key = metric.partition(".")
    return f"{group}_ci95.{key}" if key else f"{metric}_ci95"


def _y_label(metric: str) -> str:
    if _is_seconds(metric):
        return f"{metric} (ms)"
    return AXIS_LABELS.get(metric, metric)
