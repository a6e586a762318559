"""``flowy experiment export``: a report on an experiment that a person can send to a colleague.

Three formats from one data structure (:func:`build_report`): JSON for
programs, Markdown for a pull request or a wiki, and HTML for a browser. The
HTML is one self-contained file: inline CSS, the chart as inline SVG drawn
here, no script and no link to any network resource, so it opens the same
from an e-mail attachment on a machine without a connection. Every value
that came from a user (names, parameters) is escaped.
"""

from __future__ import annotations

import html
import json
import math
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from flowy.kernel.records import standard_json
from flowy.tracking.experiments import (
    experiment_runs,
    metric_names,
    rank,
    summarize,
)
from flowy.tracking.svg_frame import Frame, ticks, value_range

if TYPE_CHECKING:
    from flowy.kernel.contracts import MetadataStore

FORMATS = ("html", "md", "json")


def build_report(
    store: MetadataStore,
    name: str,
    metric: str | None = None,
    mode: str = "max",
    limit: int | None = None,
) -> dict[str, Any]:
    """Runs (oldest first), the parameters that vary, metric values, and the charted metric."""
    summaries = list(reversed(summarize(store, experiment_runs(store, name, limit=limit))))
    metrics = metric_names(summaries)
    chosen = metric or (metrics[0] if metrics else None)
    if metric is not None and metric not in metrics:
        from flowy.kernel.errors import FlowyError

        raise FlowyError(
            f"No run of experiment {name!r} logged a metric {metric!r}; its metrics: "
            f"{', '.join(metrics) or 'none'}."
        )
    all_params: dict[str, set[str]] = {}
    for s in summaries:
        for key, value in s.params.items():
            all_params.setdefault(key, set()).add(json.dumps(value, sort_keys=True, default=str))
    for s in summaries:  # a parameter absent from some runs varies too
        for key, values in all_params.items():
            if key not in s.params:
                values.add("<absent>")
    varying = [k for k, values in all_params.items() if len(values) > 1]
    fixed = {k: summaries[-1].params.get(k) for k, v in all_params.items() if len(v) == 1}
    ranked = rank(summaries, chosen, mode) if chosen else []
    return {
        "experiment": name,
        "generated_at": time.time(),
        "metric": chosen,
        "mode": mode,
        "metrics": metrics,
        "varying_params": varying,
        "fixed_params": fixed,
        "best_run": ranked[0].run_id if ranked else None,
        "runs": [s.to_json() for s in summaries],
        **_series(store, [s.run_id for s in summaries], [chosen, *metrics] if chosen else []),
    }


def _series(store: MetadataStore, run_ids: Sequence[str], metrics: Sequence[str]) -> dict[str, Any]:
    """``series_metric`` and its ``series``: ``run_id -> [[index, value], ...]`` of each run
    that logged it more than once (``index``: the ``step=`` given, else the position).

    The charted metric when some run logged it as a series, else the first metric that was.
    """
    logged: dict[str, dict[str, list[list[float]]]] = {}
    for run_id in run_ids:
        for _, m in store.get_metrics(run_id):
            points = logged.setdefault(m.name, {}).setdefault(run_id, [])
            points.append([len(points) if m.step is None else m.step, m.value])
    for name in metrics:
        found = {r: p for r, p in logged.get(name, {}).items() if len(p) > 1}
        if found:
            return {"series_metric": name, "series": found}
    return {"series_metric": None, "series": {}}


def render(report: dict[str, Any], fmt: str) -> str:
    """The report as ``html``, ``md`` or ``json`` text."""
    if fmt == "json":
        return json.dumps(standard_json(report), indent=2, default=str, allow_nan=False) + "\n"
    if fmt == "md":
        return render_markdown(report)
    if fmt == "html":
        return render_html(report)
    raise ValueError(f"unknown report format {fmt!r}; use one of {', '.join(FORMATS)}")


def fmt_value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str)


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts)) if ts else "-"


def _table_rows(report: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    header = ["run", "started", "status", *report["varying_params"], *report["metrics"]]
    rows = []
    for run in report["runs"]:
        cells = [run["run_id"][:12], _when(run["started_at"]), run["status"]]
        cells += [fmt_value(run["params"].get(p)) for p in report["varying_params"]]
        for m in report["metrics"]:
            text = fmt_value(run["metrics"].get(m))
            cells.append(text + (" (cached)" if m in run["inherited_metrics"] else ""))
        rows.append(cells)
    return header, rows


# -- markdown -----------------------------------------------------------------


def _md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def render_markdown(report: dict[str, Any]) -> str:
    lines = [f"# Experiment {report['experiment']}", ""]
    lines.append(f"{len(report['runs'])} runs, report made {_when(report['generated_at'])}.")
    if report["best_run"]:
        lines.append(f"Best run by {report['metric']} ({report['mode']}): `{report['best_run']}`.")
    if report["fixed_params"]:
        fixed = ", ".join(f"{k}={fmt_value(v)}" for k, v in report["fixed_params"].items())
        lines.append(f"Parameters shared by every run: {_md_cell(fixed)}.")
    header, rows = _table_rows(report)
    lines += ["", "| " + " | ".join(_md_cell(h) for h in header) + " |"]
    lines.append("|" + "---|" * len(header))
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    points = _points(report)
    if points:
        lines += ["", f"## {report['metric']} over runs", "", "```"]
        low = min(v for _, v in points)
        high = max(v for _, v in points)
        for run_id, value in points:
            width = 1 + round(39 * ((value - low) / (high - low) if high > low else 1))
            lines.append(f"{run_id[:12]}  {'█' * width} {value:.6g}")
        lines.append("```")
    return "\n".join(lines) + "\n"


# -- html -----------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem;color:#1b1f24}
h1{font-size:1.5rem;margin-bottom:.2rem}.sub{color:#57606a;margin-top:0}
table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}
th,td{border:1px solid #d0d7de;padding:.3rem .6rem;text-align:left}
th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.best td{background:#dafbe1}.cached{color:#8250df;font-size:.8em}
code{font-family:ui-monospace,monospace}figure{margin:1rem 0}
figcaption{color:#57606a;font-size:.9rem}
"""


def _points(report: dict[str, Any]) -> list[tuple[str, float]]:
    metric = report["metric"]
    if metric is None:
        return []
    points = []
    for run in report["runs"]:
        value = run["metrics"].get(metric)
        if isinstance(value, int | float) and math.isfinite(value):
            points.append((run["run_id"], float(value)))
    return points


def svg_chart(
    points: Sequence[tuple[str, float]], metric: str, best: str | None, width: int = 720
) -> str:
    """A line chart of one value per run, in run order, as standalone inline SVG."""
    frame = Frame(width, 320, left=70, right=20, top=20, bottom=60)
    height, left, top = frame.height, frame.left, frame.top
    plot_w, plot_h = frame.plot_w, frame.plot_h
    low, high = value_range(min(v for _, v in points), max(v for _, v in points))
    pad = (high - low) * 0.08
    low, high = low - pad, high + pad

    def x(i: int) -> float:
        return left + (plot_w * (i + 0.5) / len(points))

    y = frame.y_scale(low, high)
    esc = html.escape
    parts = [frame.open("chart", f"{metric} over runs")]
    for value in ticks(low, high):
        ty = y(value)
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{ty:.1f}" y2="{ty:.1f}" '
            'stroke="#eaeef2"/>'
            f'<text x="{left - 6}" y="{ty + 4:.1f}" font-size="11" text-anchor="end" '
            f'fill="#57606a">{value:.4g}</text>'
        )
    path = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, (_, v) in enumerate(points))
    parts.append(
        f'<polyline class="series" points="{path}" fill="none" stroke="#0969da" '
        'stroke-width="2.5"/>'
    )
    step = max(1, math.ceil(len(points) / 12))
    for i, (run_id, value) in enumerate(points):
        colour = "#1a7f37" if run_id == best else "#0969da"
        radius = 6 if run_id == best else 4
        parts.append(
            f'<circle class="point" cx="{x(i):.1f}" cy="{y(value):.1f}" r="{radius}" '
            f'fill="{colour}" data-run="{esc(run_id)}" data-value="{value!r}">'
            f"<title>{esc(run_id[:12])}: {value:.6g}</title></circle>"
        )
        if i % step == 0:
            lx, ly = x(i), top + plot_h + 14
            parts.append(
                f'<text x="{lx:.1f}" y="{ly}" font-size="10" text-anchor="end" fill="#57606a" '
                f'transform="rotate(-35 {lx:.1f} {ly})">{esc(run_id[:8])}</text>'
            )
    parts.append(frame.close("runs, oldest first", height - 4, metric))
    return "".join(parts)


def render_html(report: dict[str, Any]) -> str:
    esc = html.escape
    name = esc(report["experiment"])
    header, rows = _table_rows(report)
    n_fixed = 3 + len(report["varying_params"])
    body = [
        f"<h1>Experiment {name}</h1>",
        f'<p class="sub">{len(report["runs"])} runs · report made '
        f"{esc(_when(report['generated_at']))}</p>",
    ]
    if report["best_run"]:
        body.append(
            f"<p>Best run by <b>{esc(report['metric'])}</b> ({esc(report['mode'])}): "
            f"<code>{esc(report['best_run'])}</code></p>"
        )
    if report["fixed_params"]:
        fixed = ", ".join(
            f"<code>{esc(k)}={esc(fmt_value(v))}</code>" for k, v in report["fixed_params"].items()
        )
        body.append(f"<p>Parameters shared by every run: {fixed}</p>")
    points = _points(report)
    if points:
        body.append(
            f"<figure>{svg_chart(points, report['metric'], report['best_run'])}"
            f"<figcaption>{esc(report['metric'])} of each run (the best in green)</figcaption>"
            "</figure>"
        )
    series = report.get("series") or {}
    if series:
        from flowy.tracking.report_series_chart import series_chart

        body.append(
            f"<figure>{series_chart(series, report['series_metric'])}"
            f"<figcaption>{esc(report['series_metric'])} per logged step, one line per run"
            "</figcaption></figure>"
        )
    table = ['<table id="metrics-table"><thead><tr>']
    table += [f"<th>{esc(h)}</th>" for h in header]
    table.append("</tr></thead><tbody>")
    for run, cells in zip(report["runs"], rows, strict=True):
        best = ' class="best"' if run["run_id"] == report["best_run"] else ""
        table.append(f'<tr{best} data-run="{esc(run["run_id"])}">')
        for i, cell in enumerate(cells):
            css = ' class="num"' if i >= n_fixed else ""
            text = esc(cell).replace(" (cached)", ' <span class="cached">(cached)</span>')
            table.append(f"<td{css}>{text}</td>")
        table.append("</tr>")
    table.append("</tbody></table>")
    body.append("".join(table))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Experiment {name}</title><style>{_CSS}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )
