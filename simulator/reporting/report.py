"""`report.md` and `report.html` for a saved sweep, run or plan: self-contained, reproducible.

Owns the report's content and both renderings: the resolved scenario, the
summary table, the figures (linked from the Markdown, embedded in the HTML),
the largest load meeting the SLO per batching setting, and what reproduces it
(package version, seed, command).
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

from ..analysis.slo_capacity import max_load_per_setting
from ..model.yaml_io import dump_yaml
from ..storage.saved import SavedRun, SavedSweep, load_result
from .plots import default_kinds, make_plot

POINT_COLUMNS = (("offered_rate", "offered (req/s)", 1.0), ("throughput", "throughput (req/s)",
                 1.0), ("latency.p50", "p50 (ms)", 1e3), ("latency.p99", "p99 (ms)", 1e3),
                 ("latency_ci95.p99", "p99 ±95% (ms)", 1e3), ("batch_size.mean", "batch", 1.0),
                 ("utilization", "utilisation", 1.0), ("saturated", "saturated", None))


def write_report(folder: Path) -> tuple[Path, Path]:
    """Draw the figures and write `report.md` and `report.html` into `folder`."""
    folder = Path(folder)
    if (folder / "plan.json").is_file():
        from .plan_report import plan_blocks

        blocks, figures = plan_blocks(folder)
    else:
        result = load_result(folder)
        figures = [make_plot(result, kind, folder) for kind in default_kinds(result)]
        blocks = sweep_blocks(result) if isinstance(result, SavedSweep) else run_blocks(result)
    blocks += [("h2", "Figures")] + [("img", path.name, path) for path in figures]
    md, page = folder / "report.md", folder / "report.html"
    md.write_text(to_markdown(blocks))
    page.write_text(to_html(blocks, title=f"batchsim report: {folder.name}"))
    return md, page


def sweep_blocks(sweep: SavedSweep) -> list[tuple]:
    env = sweep.document.get("environment", {})
    blocks = [("h1", f"Sweep {sweep.folder.name}: {sweep.scenario.get('name', '')}"),
              ("p", sweep.scenario.get("description") or "")]
    blocks += _reproduce(env.get("batchsim"), sweep.scenario.get("seed"),
                         sweep.document.get("command"))
    blocks += _slo_blocks(sweep)
    headers = ["point", *sweep.swept, *(label for _, label, _ in POINT_COLUMNS)]
    rows = [[r["point"], *(_fmt(r.get(k)) for k in sweep.swept),
             *(_fmt(r.get(c), s) for c, _, s in POINT_COLUMNS)] for r in sweep.rows]
    blocks += [("h2", f"Summary ({len(rows)} points)"), ("table", headers, rows),
               ("p", "Full table with every metric and its 95% CI: sweep.csv.")]
    blocks += [("h2", "Scenario (resolved)"), ("code", dump_yaml(sweep.scenario))]
    return blocks


def run_blocks(run: SavedRun) -> list[tuple]:
    s, meta = run.summary, run.summary.get("meta", {})
    blocks = [("h1", f"Run {run.folder.name}: {s.get('name', '')}")]
    blocks += _reproduce(meta.get("batchsim"), s.get("seed"), meta.get("command"))
    rows = [[name, _fmt(s.get(key), scale)] for key, name, scale in POINT_COLUMNS[:2]]
    rows += [[f"latency {p} (ms)", f"{_fmt(s['latency'][p], 1e3)} ± "
              f"{_fmt(s['latency_ci95'][p], 1e3)}"] for p in ("mean", "p50", "p95", "p99")]
    rows += [["utilisation", _fmt(s.get("utilization"))], ["saturated", _fmt(s["saturated"])]]
    blocks += [("h2", "Summary"), ("table", ["statistic", "value"], rows)]
    blocks += [("h2", "Scenario (resolved)"), ("code", dump_yaml(meta.get("scenario", {})))]
    return blocks


def _reproduce(version, seed, command) -> list[tuple]:
    return [("h2", "Reproduce"),
            ("p", f"batchsim {version or 'unknown'}, seed {seed}. Command:"),
            ("code", command or "(not recorded)")]


def _slo_blocks(sweep: SavedSweep) -> list[tuple]:
    load = next((k for k in sweep.swept if k.startswith("arrival.")), None)
    answers = max_load_per_setting(sweep, load) if load else []
    if not answers:
        return []
    headers = [*(answers[0].setting or {"setting": None}), f"largest {load} meeting the SLO",
               "between sweep points", "how"]
    rows = [[*([_fmt(v) for v in a.setting.values()] or ["(base)"]), _fmt(a.max_load),
             _bracket(*a.bracket), a.note] for a in answers]
    slo = f"p{sweep.slo_percentile:g} latency ≤ {sweep.slo_latency_s * 1e3:g} ms"
    return [("h2", f"Largest load meeting the SLO ({slo})"), ("table", headers, rows),
            ("p", "Interpolated linearly in the SLO percentile between the last sweep point "
             "that meets it and the first that misses it; saturated points miss.")]


def _bracket(low: float | None, high: float | None) -> str:
    if low is None:
        return f"below {_fmt(high)}"
    return f"above {_fmt(low)}" if high is None else f"{_fmt(low)} – {_fmt(high)}"


def _fmt(value, scale: float | None = 1.0) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float) and scale is not None:
        return f"{value * scale:.4g}"
    return str(value)


# -- rendering ------------------------------------------------------------------------
def to_markdown(blocks: list[tuple]) -> str:
    out = []
    for kind, *body in blocks:
        if kind == "h1":
            out.append(f"# {body[0]}")
        elif kind == "h2":
            out.append(f"## {body[0]}")
        elif kind == "p" and body[0]:
            out.append(body[0])
        elif kind == "code":
            out.append(f"```\n{body[0].rstrip()}\n```")
        elif kind == "table":
            headers, rows = body
            lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
            lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
            out.append("\n".join(lines))
        elif kind == "img":
            out.append(f"![{body[0]}]({body[0]})")
    return "\n\n".join(out) + "\n"


def to_html(blocks: list[tuple], title: str) -> str:
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
             "</title><style>body{font-family:sans-serif;max-width:1000px;margin:2em auto}"
             "table{border-collapse:collapse;font-size:0.85em}td,th{border:1px solid #ccc;"
             "padding:2px 6px;text-align:right}pre{background:#f6f6f6;padding:1em;"
             "overflow:auto}img{max-width:100%}</style></head><body>"]
    for kind, *body in blocks:
        if kind in ("h1", "h2"):
            parts.append(f"<{kind}>{html.escape(body[0])}</{kind}>")
        elif kind == "p" and body[0]:
            parts.append(f"<p>{html.escape(body[0])}</p>")
        elif kind == "code":
            parts.append(f"<pre>{html.escape(body[0])}</pre>")
        elif kind == "table":
            headers, rows = body
            head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
            cells = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row)
                            + "</tr>" for row in rows)
            parts.append(f"<table><tr>{head}</tr>{cells}</table>")
        elif kind == "img":
            data = base64.b64encode(Path(body[1]).read_bytes()).decode()
            parts.append(f"<figure><img alt='{html.escape(body[0])}' "
                         f"src='data:image/png;base64,{data}'></figure>")
    parts.append("</body></html>\n")
    return "\n".join(parts)

