"""NaN and ±inf metrics: stored, read back, shown, and written as standard JSON.

A diverged loss is a real result. It used to end the run with "Unexpected
IntegrityError" (SQLite stores a NaN as NULL into a NOT NULL column), with no
step record and downstream steps never run; ``--json`` output held bare
``NaN``/``Infinity``, which strict JSON parsers refuse. Real ``flowy`` processes
on both SQL stores (the stdlib ``sqlite`` one and the SQLAlchemy ``sql`` one;
PostgreSQL: flowy-store-sqlite/tests/test_postgres.py).
"""

from __future__ import annotations

import json
import math
import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

Flowy = Callable[..., subprocess.CompletedProcess[str]]

PIPELINE = """
import flowy
from flowy import Pipeline, step


@step
def train(diverge: int = 1) -> int:
    for i, loss in enumerate([0.5, float("nan")] if diverge else [0.5, 0.25]):
        flowy.log_metric("loss", loss, step=i)
    flowy.log_metric("grad_norm", float("inf") if diverge else 3.0)
    flowy.log_metric("margin", float("-inf") if diverge else -1.0)
    return diverge


@step
def report(train: int) -> str:
    return f"diverged={train}"


pipeline = Pipeline("nonfinite", [train, report])
"""

SQL_STACK = """
[executor]
type = "local"
[metadata_store]
type = "sql"
url = "sqlite:///{project}/.flowy/sql.db"
[artifact_store]
type = "local"
path = "{project}/.flowy/sql-artifacts"
"""


def strict_loads(text: str) -> Any:
    """json.loads that refuses NaN/Infinity/-Infinity, as JavaScript's JSON.parse does."""

    def refuse(constant: str) -> None:
        raise AssertionError(f"bare {constant} in JSON output")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(params=["local", "sql"], ids=["sqlite-store", "sqlalchemy-store"])
def flowy(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    flowy_env: Callable[..., dict[str, str]],
    flowy_runner: Callable[..., Flowy],
):
    """``flowy ARGS`` in a fresh project whose active stack uses the store under test."""
    project = tmp_path / "project"
    (project / ".flowy" / "stacks").mkdir(parents=True)
    (project / "pipe.py").write_text(textwrap.dedent(PIPELINE))
    env = flowy_env(tmp_path / "home", COLUMNS="200")
    extra: list[str] = []
    if request.param == "sql":
        (project / ".flowy" / "stacks" / "sqlmeta.toml").write_text(SQL_STACK)
        extra = ["--stack", "sqlmeta"]

    flowy = flowy_runner(project, env)

    def run(*args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        on_stack = extra if args[0] in ("run", "runs", "experiment") else []
        return flowy(*args, *on_stack, code=code)

    run.project = project  # type: ignore[attr-defined]
    run.store = request.param  # type: ignore[attr-defined]
    return run


def _run_id(flowy: Any, *params: str) -> str:
    flowy("run", "pipe.py", *params)
    return strict_loads(flowy("runs", "list", "--json").stdout)[0]["run_id"]


def test_nonfinite_metrics_are_stored_read_back_and_shown(flowy: Any) -> None:
    run_id = _run_id(flowy, "--param", "diverge=1")  # exits 0: the run completed

    shown = strict_loads(flowy("runs", "show", run_id, "--json").stdout)
    assert shown["status"] == "completed"
    assert [s["status"] for s in shown["steps"]] == ["completed", "completed"]  # downstream ran
    metrics = {(m["name"], m["step"]): m["value"] for m in shown["steps"][0]["metrics"]}
    assert metrics == {
        ("loss", 0): 0.5,
        ("loss", 1): "NaN",
        ("grad_norm", None): "Infinity",
        ("margin", None): "-Infinity",
    }

    # The store hands back real floats, not strings.
    project = flowy.project
    if flowy.store == "local":
        from flowy_store_sqlite.sqlite import SQLiteMetadataStore as Store

        url = f"sqlite:///{project}/.flowy/metadata.db"
    else:
        from flowy_store_sqlite.metadata import SQLMetadataStore as Store

        url = f"sqlite:///{project}/.flowy/sql.db"
    store = Store(url)
    try:
        values = {m.name: m.value for _, m in store.get_metrics(run_id)}
    finally:
        store.close()
    assert math.isnan(values["loss"])
    assert values["grad_norm"] == math.inf
    assert values["margin"] == -math.inf

    text = flowy("runs", "show", run_id).stdout
    assert "loss=nan (last of 2)" in text
    assert "grad_norm=inf" in text and "margin=-inf" in text


def test_experiment_json_is_standard_and_nan_is_never_best(flowy: Any) -> None:
    diverged = _run_id(flowy, "--param", "diverge=1")
    finite = _run_id(flowy, "--param", "diverge=0")

    runs = strict_loads(flowy("experiment", "runs", "nonfinite", "--json").stdout)
    by_id = {r["run_id"]: r for r in runs}
    assert by_id[diverged]["metrics"]["loss"] == "NaN"
    assert by_id[finite]["metrics"]["loss"] == 0.25

    compare = strict_loads(flowy("experiment", "compare", diverged, finite, "--json").stdout)
    rows = {m["name"]: m for m in compare["metrics"]}
    assert rows["loss"]["values"] == ["NaN", 0.25]
    assert rows["grad_norm"]["values"] == ["Infinity", 3.0]
    assert rows["grad_norm"]["deltas"] == ["NaN", "-Infinity"]  # inf - inf, 3 - inf
    assert rows["margin"]["values"] == ["-Infinity", -1.0]
    # The terminal view shows them too, without a delta to or from a NaN.
    table = flowy("experiment", "compare", diverged, finite).stdout
    assert "nan" in table and "inf" in table and "(+nan)" not in table

    report = strict_loads(
        flowy("experiment", "export", "nonfinite", "--format", "json", "-o", "-").stdout
    )
    assert {r["run_id"]: r["metrics"]["loss"] for r in report["runs"]} == {
        diverged: "NaN",
        finite: 0.25,
    }

    # A diverged (NaN) run is never the best, whichever way the metric is ranked.
    for mode in ("min", "max"):
        best = strict_loads(
            flowy("experiment", "best", "nonfinite", "-m", "loss", "--mode", mode, "--json").stdout
        )
        assert best["run_id"] == finite, mode
        assert best["value"] == 0.25
