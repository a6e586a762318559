"""``flowy doctor``'s health checks on a real project: real stores, real ``flowy`` processes.

A healthy stack exits 0 (warnings allowed); an unwritable artifact folder, a stale
running run and a database at a schema revision this Flowy does not know each
fail with a non-zero exit, and say so in the table and in ``--json``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flowy.kernel.records import RunRecord
from flowy_store_sqlite.metadata import SQLMetadataStore
from flowy_store_sqlite.revisions import HEAD_REVISION

PIPE = """
from flowy import Pipeline, step


@step
def make() -> int:
    return 41


@step
def add_one(make: int) -> int:
    return make + 1


pipeline = Pipeline("doctored", [make, add_one])
"""

NAMES = {
    "metadata store", "schema", "artifact store", "index", "plugins", "running runs",
    "circuit breakers",
}  # fmt: skip


@pytest.fixture
def proj(
    tmp_path: Path, flowy_env: Callable[..., dict[str, str]], flowy_runner: Callable[..., Any]
) -> Any:
    project = tmp_path / "project"
    (project / ".flowy").mkdir(parents=True)
    (project / "pipe.py").write_text(PIPE)
    env = flowy_env(tmp_path / "home", FLOWY_PROJECT=str(project))
    flowy = flowy_runner(project, env, timeout=300)
    flowy("run", "pipe.py")

    class Project:
        root = project
        db = project / ".flowy" / "metadata.db"
        artifacts = project / ".flowy" / "artifacts"

        @staticmethod
        def doctor(*args: str, code: int | None = 0) -> subprocess.CompletedProcess[str]:
            return flowy("doctor", *args, code=code)  # type: ignore[no-any-return]

        @staticmethod
        def report(code: int) -> dict[str, Any]:
            data: dict[str, Any] = json.loads(flowy("doctor", "--json", code=code).stdout)
            return data

        flowy_cmd = staticmethod(flowy)

    return Project


def _by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in report["checks"]}


def test_a_healthy_stack_exits_0_and_json_has_its_shape(proj: Any) -> None:
    shown = proj.doctor().stdout
    assert "artifact store" in shown and "✓" in shown and "Healthy" in shown
    report = proj.report(0)
    assert set(report) == {"ok", "status", "checks", "problems"}
    assert report["ok"] is True and report["problems"] == [] and report["status"] in ("ok", "warn")
    for check in report["checks"]:
        assert set(check) == {"name", "status", "detail", "fix"}
        assert check["status"] in ("ok", "warn", "fail")
    checks = _by_name(report)
    assert set(checks) >= NAMES
    assert any(name.startswith("disk (") for name in checks)
    assert checks["schema"]["status"] == "ok" and HEAD_REVISION in checks["schema"]["detail"]
    assert checks["artifact store"]["status"] == "ok"
    assert "scheduler" not in checks  # no schedule: nothing to say about a scheduler
    assert not list(proj.artifacts.glob("doctor-probe*"))  # the probe was deleted


def test_active_schedules_without_a_scheduler_warn_but_exit_0(proj: Any) -> None:
    proj.flowy_cmd("schedule", "add", "nightly", "pipe.py", "--cron", "0 3 * * *")
    report = proj.report(0)
    scheduler = _by_name(report)["scheduler"]
    assert scheduler["status"] == "warn" and "flowy scheduler" in scheduler["fix"]
    assert report["status"] == "warn" and report["ok"] is True


@pytest.fixture
def unwritable(proj: Any) -> Iterator[Path]:
    """The artifact folder made unwritable: read-only, and immutable as well when run as
    root (root ignores permissions). On a file system without the immutable flag, root
    gets a file where the folder was: nothing can be written under it either."""
    folder = proj.artifacts
    mode = folder.stat().st_mode
    folder.chmod(0o555)
    immutable = replaced = False
    if os.geteuid() == 0:
        immutable = subprocess.run(["chattr", "+i", str(folder)], check=False).returncode == 0
        if not immutable:
            folder.chmod(mode)
            folder.rename(folder.with_name("artifacts.moved"))
            folder.write_text("not a folder")
            replaced = True
    try:
        yield folder
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], check=False)
        if replaced:
            folder.unlink()
            folder.with_name("artifacts.moved").rename(folder)
        folder.chmod(mode)


def test_an_unwritable_artifact_folder_fails(proj: Any, unwritable: Path) -> None:
    shown = proj.doctor(code=1)
    assert "artifact store" in shown.stdout and "fail" in shown.stdout
    report = proj.report(1)
    check = _by_name(report)["artifact store"]
    assert check["status"] == "fail" and check["fix"]
    assert report["ok"] is False and any(p.startswith("artifact store") for p in report["problems"])


def test_a_stale_running_run_fails(proj: Any) -> None:
    store = SQLMetadataStore(f"sqlite:///{proj.db}")
    try:
        store.create_run(
            RunRecord(
                "feedfacecafe0000000000000000000001", "doctored", "running",
                started_at=time.time() - 3 * 86400, pid=4242, host="elsewhere.example",
            )
        )  # fmt: skip
    finally:
        store.close()
    shown = proj.doctor(code=1).stdout
    assert "feedfacecafe" in shown
    report = proj.report(1)
    check = _by_name(report)["running runs"]
    assert check["status"] == "fail" and "elsewhere.example" in check["detail"]
    assert "flowy runs cancel" in check["fix"]
    # A longer --stale-after forgives it.
    relaxed = json.loads(proj.flowy_cmd("doctor", "--json", "--stale-after", "200").stdout)
    assert _by_name(relaxed)["running runs"]["status"] == "ok"


def test_a_database_at_an_unknown_schema_revision_fails(proj: Any) -> None:
    with sqlite3.connect(proj.db) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0099_from_the_future'")
    report = proj.report(1)
    checks = _by_name(report)
    assert checks["metadata store"]["status"] == "fail"
    assert "0099_from_the_future" in checks["metadata store"]["detail"]
    assert checks["schema"]["status"] == "fail" and "pip install -U" in checks["schema"]["fix"]
    assert checks["artifact store"]["status"] == "ok"  # the other checks still ran
    assert "✗" in proj.doctor(code=1).stdout


def test_an_open_breaker_warns(proj: Any) -> None:
    store = SQLMetadataStore(f"sqlite:///{proj.db}")
    try:
        store.circuit_ended("doctored", "make", "r1", failed=True, error="boom", threshold=1)
    finally:
        store.close()
    report = proj.report(0)
    check = _by_name(report)["circuit breakers"]
    assert check["status"] == "warn" and "doctored.make" in check["detail"]


def test_a_plugin_that_fails_to_load_fails(
    tmp_path: Path, flowy_env: Callable[..., dict[str, str]], flowy_runner: Callable[..., Any]
) -> None:
    from tests.test_cli_plugin_health import RAISING, install

    install(tmp_path / "site", "flowy-raises", "flowy_raises_plugin", RAISING)
    project = tmp_path / "project"
    (project / ".flowy").mkdir(parents=True)
    env = flowy_env(tmp_path / "home", ["flowy-raises"], PYTHONPATH=str(tmp_path / "site"))
    flowy = flowy_runner(project, env)
    report = json.loads(flowy("doctor", "--json", code=1).stdout)
    check = _by_name(report)["plugin flowy-raises"]
    assert check["status"] == "fail" and "bad config in plugin" in check["detail"]
    assert "FLOWY_DISABLE_PLUGINS" in check["fix"]
    assert _by_name(report)["artifact store"]["status"] == "ok"  # the stack itself works
