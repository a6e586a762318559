"""How ``flowy experiment compare`` looks in a terminal: one table per kind of difference.

Runs are columns, the first is the baseline. Unchanged rows are hidden unless
``--all`` (parameters and metrics are always shown whole: they are what a
comparison is for); a section with nothing different says so in one line.
"""

from __future__ import annotations

from typing import Any

from flowy_cli.output import console, short_id, styled_status, table
from flowy_cli.terminal_text import escape_markup as escape


def _cell(value: Any) -> str:
    import json

    if value is None:
        return "[dim]-[/]"
    if isinstance(value, float):
        return f"{value:.6g}"
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return escape(text if len(text) <= 60 else text[:59] + "…")


def _flag(name: str, changed: bool) -> str:
    return f"[yellow]{escape(name)}[/]" if changed else escape(name)


def _delta(delta: float | None) -> str:
    import math

    if delta is None or delta == 0 or math.isnan(delta):  # no delta to or from a NaN
        return ""
    colour = "green" if delta > 0 else "red"
    return f" [{colour}]({delta:+.4g})[/]"


def render_comparison(data: dict[str, Any], *, show_all: bool = False) -> None:
    out = console()
    runs = [escape(short_id(r["run_id"])) for r in data["runs"]]
    out.print(
        f"[bold]Comparing {len(runs)} runs[/] (baseline {escape(data['baseline'])}): "
        + ", ".join(
            f"{run} {styled_status(r['status'])}" for run, r in zip(runs, data["runs"], strict=True)
        )
    )

    def section(title: str, label: str, rows: list[list[str]]) -> None:
        out.print(f"\n[bold]{title}[/]")
        if not rows:
            out.print("  [dim](no differences)[/]")
            return
        t = table(label, *runs)
        for row in rows:
            t.add_row(*row)
        out.print(t)

    section(
        "Parameters",
        "parameter",
        [
            [_flag(p["name"], p["changed"]), *(_cell(v) for v in p["values"])]
            for p in data["params"]
        ],
    )
    metric_rows = []
    for m in data["metrics"]:
        cells = []
        for value, delta, source in zip(m["values"], m["deltas"], m["inherited_from"], strict=True):
            cached = " [dim](cached)[/]" if source else ""
            cells.append(_cell(value) + _delta(delta) + cached)
        metric_rows.append([escape(m["name"]), *cells])
    section("Metrics (delta from the baseline)", "metric", metric_rows)
    if data.get("series"):
        section("Series (last value, points, curve)", "series", _series_rows(data["series"]))
    step_rows = []
    for s in data["steps"]:
        if not (show_all or s["code_changed"] or len(set(s["status"])) > 1 or any(s["cached"])):
            continue
        cells = []
        for status, code in zip(s["status"], s["code_hash"], strict=True):
            cell = styled_status(status) if status else "[dim]-[/]"
            cells.append(cell + (f" [dim]{escape(code[:8])}[/]" if code else ""))
        name = escape(s["step"]) + (" [yellow](code changed)[/]" if s["code_changed"] else "")
        step_rows.append([name, *cells])
    section("Steps (status, code hash)", "step", step_rows)
    for title, key in (("Git", "git"), ("Environment", "environment")):
        section(
            title,
            "field",
            [
                [escape(f["field"]), *(_cell(v) for v in f["values"])]
                for f in data[key]
                if show_all or f["changed"]
            ],
        )
    section(
        "Installed packages that differ",
        "package",
        [[escape(p["name"]), *(_cell(v) for v in p["values"])] for p in data["packages"]],
    )


def _series_rows(series: list[dict[str, Any]]) -> list[list[str]]:
    """One row per (step, metric) series: each run's last value, point count and sparkline."""
    from flowy_cli.series import sparkline

    rows = []
    for item in series:
        cells = []
        for points in item["points"]:
            if not points:
                cells.append("[dim]-[/]")
                continue
            values = [float(v) for _, v in points]
            cells.append(f"{values[-1]:.4g} ({len(values)}) {sparkline(values, width=16)}")
        rows.append([escape(f"{item['step']}.{item['metric']}"), *cells])
    return rows
