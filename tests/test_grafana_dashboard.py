"""docs/grafana/flowy.json uses only metrics Flowy exports, and is a dashboard Grafana imports.

The exported names come from a real ``flowy monitor dump`` (every family is declared
even on an empty store), so a renamed metric fails here, not on someone's Grafana.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

DASHBOARD = Path(__file__).parents[1] / "docs" / "grafana" / "flowy.json"
SUFFIXES = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}


def _exported(tmp_path: Path, flowy_env: Any, flowy_runner: Any) -> set[str]:
    project = tmp_path / "project"
    (project / ".flowy").mkdir(parents=True)
    flowy = flowy_runner(project, flowy_env(tmp_path / "home", FLOWY_PROJECT=str(project)))
    names = set()
    for family in text_string_to_metric_families(flowy("monitor", "dump").stdout):
        names.update(family.name + s for s in SUFFIXES.get(family.type, [""]))
    return names


def _exprs(dashboard: dict[str, Any]) -> list[str]:
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        exprs.append(variable["definition"])
    return exprs


def test_every_expression_uses_exported_metrics(tmp_path, flowy_env, flowy_runner) -> None:
    exported = _exported(tmp_path, flowy_env, flowy_runner)
    assert {"flowy_runs_total", "flowy_step_duration_seconds_bucket", "flowy_up"} <= exported
    dashboard = json.loads(DASHBOARD.read_text())
    used: set[str] = set()
    for expr in _exprs(dashboard):
        names = set(re.findall(r"\bflowy_[a-z_]+", expr))
        assert names, f"an expression without a Flowy metric: {expr}"
        unknown = names - exported
        assert not unknown, f"{expr} uses {sorted(unknown)}, which Flowy does not export"
        used |= names
    # The dashboard shows each kind of figure the endpoint exports.
    for needed in (
        "flowy_runs_running",
        "flowy_cache_hits_total",
        "flowy_step_retries_total",
        "flowy_circuit_breaker_state",
        "flowy_notifier_failures_total",
        "flowy_scheduler_heartbeat_timestamp_seconds",
        "flowy_step_peak_rss_bytes_bucket",
        "flowy_artifact_bytes_written_total",
    ):
        assert needed in used, needed  # fmt: skip


def test_the_dashboard_is_importable() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["title"] == "Flowy"
    assert [i["name"] for i in dashboard["__inputs"]] == ["DS_PROMETHEUS"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        for target in panel.get("targets", []):
            assert target["datasource"]["uid"] == "${DS_PROMETHEUS}"
