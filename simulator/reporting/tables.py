"""Plain-text rendering of a run summary for the terminal.

Owns the table `batchsim run` prints: latency and wait distributions in ms with
95% CI half-widths, then throughput, goodput and SLO verdict, batch sizes,
utilisation and the request books.
"""

from __future__ import annotations

from ..analysis.breakdown import render_groups
from ..analysis.metrics import CI_KEYS, DISTRIBUTION_KEYS

_HEADERS = {"mean": "mean", "p50": "p50", "p90": "p90", "p95": "p95", "p99": "p99",
            "p999": "p99.9", "max": "max"}


def render_summary(summary: dict, description: str = "") -> str:
    lines = [_title(summary, description), ""]
    lines += _distribution_rows(summary)
    lines.append("")
    lines += _rate_rows(summary)
    lines += _slo_rows(summary)
    lines += _batch_rows(summary)
    lines.append(_books(summary["requests"]))
    lines += _network_rows(summary)
    lines += render_groups(summary)
    lines += _precision_rows(summary)
    if summary.get("saturated"):
        lines.append(f"saturated        YES: the backlog grew or requests were lost "
                     f"(backlog at end {summary['backlog_end']:.0f} per replication)")
    return "\n".join(lines)


def _title(summary: dict, description: str) -> str:
    head = summary["name"] + (f": {description}" if description else "")
    auto = " (MSER-5, mean over replications)" if "warmup_auto" in summary else ""
    return (f"{head}\n{summary['replications']} replication(s), {summary['window_s']:.6g} s "
            f"measured after {summary['warmup_s']:.6g} s warm-up{auto}, seed {summary['seed']}; "
            f"offered {summary['offered_rate']:.5g} req/s = {summary['offered_load']:.2f} "
            f"of capacity ({summary['capacity_rps']:.5g} req/s)")


def _distribution_rows(summary: dict) -> list[str]:
    rows = ["time (ms)     " + "".join(f"{_HEADERS[k]:>10}" for k in DISTRIBUTION_KEYS)]
    for name in ("latency", "wait"):
        stats, ci = summary[name], summary[f"{name}_ci95"]
        rows.append(f"{name:<14}" + "".join(_ms(stats[k]) for k in DISTRIBUTION_KEYS))
        rows.append(f"{'  ± 95% CI':<14}" + "".join(
            _ms(ci.get(k), ".2g") if k in CI_KEYS else f"{'':>10}" for k in DISTRIBUTION_KEYS))
    return rows


def _rate_rows(summary: dict) -> list[str]:
    return [f"throughput       {_pm(summary['throughput'], summary['throughput_ci95'])} req/s"
            f"   (offered {summary['offered_rate']:.5g} req/s)"]


def _slo_rows(summary: dict) -> list[str]:
    slo = summary.get("slo")
    if not slo:
        return ["goodput          (no slo: section)"]
    limit_s = slo["latency_s"]
    rows = [f"goodput          {_pm(summary['goodput'], summary['goodput_ci95'])} req/s "
            f"within {limit_s * 1e3:g} ms",
            f"SLO attainment   {_pm_pct(summary['slo_attainment'], summary['slo_attainment_ci95'])}"
            f" of arrivals within {limit_s * 1e3:g} ms (misses include dropped requests)"]
    rows.append("SLO verdict      " + slo_verdict(summary))
    return rows


def slo_verdict(summary: dict) -> str:
    """`p99 <= 100 ms: MET` style line using the attainment, its CI and the percentile."""
    slo = summary["slo"]
    pct, limit_ms = slo["percentile"], slo["latency_s"] * 1e3
    attain, ci = summary["slo_attainment"], summary["slo_attainment_ci95"] or 0.0
    target = pct / 100
    label = f"p{pct:g} <= {limit_ms:g} ms"
    if attain is None:
        return f"{label}: no requests measured"
    if attain - ci >= target:
        return f"{label}: MET ({attain:.3%} >= {target:.3%} within, CI included)"
    if attain + ci < target:
        return f"{label}: MISSED ({attain:.3%} < {target:.3%} within)"
    return f"{label}: UNDECIDED ({attain:.3%} ± {ci:.3%} straddles {target:.3%}; " \
           "add replications)"


def _batch_rows(summary: dict) -> list[str]:
    batch = summary["batch_size"]
    hist = batch["histogram"]
    total = sum(hist.values()) or 1
    common = sorted(hist.items(), key=lambda kv: -kv[1])[:8]
    shares = ", ".join(f"{k}: {v / total:.0%}" for k, v in sorted(common, key=lambda kv: int(kv[0])))
    return [f"batch size       {_pm(batch['mean'], summary['batch_size_ci95'], '.3g')} mean"
            f"   (most common: {shares})",
            f"utilisation      {_pm_pct(summary['utilization'], summary['utilization_ci95'])}"
            " of server time busy"]


def _books(counts: dict) -> str:
    return ("requests         " + f"arrived {counts['arrived']:,}, completed {counts['completed']:,}, "
            f"rejected {counts['rejected']:,}, timed out {counts['timed_out']:,}, "
            f"in flight at end {counts['in_flight']:,}"
            + (f", failed (network) {counts['failed']:,}" if "failed" in counts else ""))


def _network_rows(summary: dict) -> list[str]:
    net = summary.get("network")
    if not net:
        return []
    attempts = _pm(net["attempts_per_request"], net["attempts_per_request_ci95"], ".4g")
    return [f"network          {attempts} attempts per request; {net['lost_attempts']:,} "
            f"attempts lost, {net['failed']:,} requests failed, {net['late_responses']:,} "
            "answers later than the timeout"]


def _precision_rows(summary: dict) -> list[str]:
    rows = []
    for name, report in (summary.get("precision") or {}).items():
        achieved = report["achieved"]
        got = "undefined" if achieved is None else f"{achieved:.2%}"
        verdict = "reached" if report["reached"] else "NOT reached (max_replications)"
        rows.append(f"precision        {name}: CI half-width {got} of the estimate, target "
                    f"{report['target']:.2%}: {verdict}")
    return rows


def _ms(seconds: float | None, fmt: str = ".4g") -> str:
    return f"{'-':>10}" if seconds is None else f"{seconds * 1e3:>10{fmt}}"


def _pm(value: float | None, ci: float | None, fmt: str = ".5g") -> str:
    if value is None:
        return "-"
    return f"{value:{fmt}}" + ("" if ci is None else f" ± {ci:.2g}")


def _pm_pct(value: float | None, ci: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2%}" + ("" if ci is None else f" ± {ci:.2%}")
