"""W&B in offline mode, in a temporary folder, and wandb's own reader of what it wrote.

Every test runs with ``WANDB_MODE=offline`` and every W&B folder (runs,
config, cache, artifacts staging) under its ``tmp_path``: nothing is sent
anywhere and nothing is left in the home folder. ``read_runs`` reads the
offline runs back with wandb's own reader of its transaction log,
``wandb leet inspect --json`` (the ``wandb-core`` binary shipped in the wandb
wheel): once with ``--summary`` for the run's state, config, summary and
tags as W&B resolves them, once for every record (history rows, artifact
manifests, the run record with group and job type).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def wandb_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """W&B offline, all its folders under ``tmp_path/wandb-home``; returns ``WANDB_DIR``."""
    home = tmp_path / "wandb-home"
    for name in ("WANDB_API_KEY", "WANDB_BASE_URL", "WANDB_ENTITY", "WANDB_PROJECT",
                 "WANDB_RUN_ID", "WANDB_RESUME", "WANDB_TAGS"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_ERROR_REPORTING", "false")
    for name, sub in (("WANDB_DIR", "runs"), ("WANDB_CONFIG_DIR", "config"),
                      ("WANDB_CACHE_DIR", "cache"), ("WANDB_DATA_DIR", "data"),
                      ("WANDB_ARTIFACT_DIR", "artifacts")):  # fmt: skip
        (home / sub).mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(name, str(home / sub))
    return home / "runs"


@dataclass
class OfflineRun:
    """One offline W&B run as wandb's reader returns it."""

    file: Path
    state: dict[str, Any]
    """``wandb leet inspect --summary --json``: state, exit_code, config, summary, tags, ..."""
    records: list[dict[str, Any]] = field(default_factory=list)
    """Every record of the transaction log, in order (``{"type": ..., <type>: {...}}``)."""

    @property
    def run_id(self) -> str:
        return str(self.state["run_id"])

    @property
    def config(self) -> dict[str, Any]:
        return dict(self.state["config"])

    @property
    def summary(self) -> dict[str, Any]:
        return dict(self.state["summary"])

    @property
    def run_record(self) -> dict[str, Any]:
        return next(r["run"] for r in self.records if r["type"] == "run")

    def history(self, key: str) -> list[dict[str, Any]]:
        """The history rows holding ``key``, in the order they were logged."""
        rows = (r["history"]["item"] for r in self.records if r["type"] == "history")
        return [row for row in rows if key in row]

    def artifacts(self) -> dict[str, dict[str, Any]]:
        """Logged artifacts by name."""
        found = (r["artifact"] for r in self.records if r["type"] == "artifact")
        return {a["name"]: a for a in found}


def _inspect(*args: str) -> str:
    wandb = Path(sys.executable).with_name("wandb")
    done = subprocess.run(
        [str(wandb), "leet", "inspect", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def read_run(file: Path) -> OfflineRun:
    state = json.loads(_inspect("--summary", "--json", str(file)))
    records = [json.loads(line) for line in _inspect("--json", str(file)).splitlines() if line]
    return OfflineRun(file, state, records)


@pytest.fixture
def read_runs() -> Callable[[Path], dict[str, OfflineRun]]:
    """Every offline W&B run under a folder, by W&B run id (= the Flowy run id)."""

    def read(folder: Path) -> dict[str, OfflineRun]:
        runs = [read_run(f) for f in sorted(folder.rglob("offline-run-*/run-*.wandb"))]
        return {run.run_id: run for run in runs}

    return read
