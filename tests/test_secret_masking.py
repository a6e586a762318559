"""Secrets written literally into a stack are never shown or recorded, through the real `flowy`.

A stack file holds a password in its SQLite URL's query, another in a
PostgreSQL URL's userinfo (with ``@`` and ``/`` in it), and a tracker option
``token``. They must be absent from `stack describe` (table and JSON), `stack
export`, the run record in the metadata database (read with sqlite3) and
`runs show`, while the tracker still receives the real token (it writes its
SHA-256, which the test compares).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

DB_PASSWORD = "Qz7-db-pass-ab12"
PG_PASSWORD = "pg@ss/Wd-9x8"
TOKEN = "tok-5521-literal"
SAS_SIG = "sig0ZZy77"
SECRETS = (DB_PASSWORD, PG_PASSWORD, TOKEN, SAS_SIG, "pg@ss", "Wd-9x8")

PIPELINE = """
from flowy import Pipeline, step


@step
def answer() -> int:
    return 42


pipeline = Pipeline("tiny", [answer])
"""

TRACKER = """
import hashlib
from pathlib import Path

from flowy import hookimpl


@hookimpl
def flowy_register_trackers(register):
    register("hash", "flowy_hash_tracker:HashTracker")


class HashTracker:
    def __init__(self, token: str, path: str, endpoint: str = "") -> None:
        self.token, self.path = token, Path(path)

    @hookimpl
    def flowy_pipeline_finished(self, run, status):
        # Proves the real secret reached the component, without writing it anywhere.
        self.path.write_text(hashlib.sha256(self.token.encode()).hexdigest())
"""

SECURE = f"""
description = "literal secrets, as a careless user writes them"
[executor]
type = "local"
[metadata_store]
type = "sqlite"
url = "sqlite:///{{project}}/.flowy/secure.db?password={DB_PASSWORD}"
[artifact_store]
type = "local"
path = "{{project}}/.flowy/secure"
[tracker]
type = "hash"
token = "{TOKEN}"
path = "{{project}}/tracked.txt"
endpoint = "https://acct.blob.example/c?sv=2024&sig={SAS_SIG}&se=x"
"""

POSTGRES = f"""
[executor]
type = "local"
[metadata_store]
type = "sql"
url = "postgresql://app:{PG_PASSWORD}@db.example:5432/flowy?sslmode=require"
[artifact_store]
type = "local"
path = "{{project}}/.flowy/pg"
"""

Flowy = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    (project / ".flowy" / "stacks").mkdir(parents=True)
    (project / "pipeline.py").write_text(PIPELINE)
    (project / ".flowy" / "stacks" / "secure.toml").write_text(SECURE)
    (project / ".flowy" / "stacks" / "pg.toml").write_text(POSTGRES)
    return project


@pytest.fixture
def flowy(
    tmp_path: Path,
    project: Path,
    flowy_env: Callable[..., dict[str, str]],
    flowy_runner: Callable[..., Flowy],
) -> Flowy:
    site = tmp_path / "site"
    site.mkdir()
    (site / "flowy_hash_tracker.py").write_text(textwrap.dedent(TRACKER))
    info = site / "flowy_hash_tracker-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: flowy-hash-tracker\nVersion: 1.0\n"
    )
    (info / "entry_points.txt").write_text("[flowy]\nflowy-hash-tracker = flowy_hash_tracker\n")
    env = flowy_env(
        tmp_path / "home",
        ["flowy-hash-tracker"],
        PYTHONPATH=os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])),
        COLUMNS="250",
    )
    return flowy_runner(project, env)


def assert_no_secret(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} shown by {where}:\n{text}"


def test_literal_secrets_are_masked_in_describe_and_export(flowy: Flowy) -> None:
    for name in ("secure", "pg"):
        human = flowy("stack", "describe", name)
        assert_no_secret(human.stdout + human.stderr, f"stack describe {name}")
        assert "****" in human.stdout
        described = flowy("stack", "describe", name, "--json")
        assert_no_secret(described.stdout, f"stack describe {name} --json")
        exported = flowy("stack", "export", name)
        assert_no_secret(exported.stdout + exported.stderr, f"stack export {name}")
        assert "****" in exported.stdout and "{env:NAME}" in " ".join(exported.stderr.split())
    options = json.loads(flowy("stack", "describe", "pg", "--json").stdout)["components"]
    # What is not a secret stays readable: the user, the host, the other parameters.
    assert options["metadata_store"]["options"]["url"] == (
        "postgresql://app:****@db.example:5432/flowy?sslmode=require"
    )
    secure = json.loads(flowy("stack", "describe", "secure", "--json").stdout)["components"]
    assert secure["tracker"]["options"]["token"] == "****"
    assert secure["tracker"]["options"]["endpoint"].endswith("?sv=2024&sig=****&se=x")
    assert secure["metadata_store"]["options"]["url"].endswith("/secure.db?password=****")


def test_literal_secrets_reach_the_component_but_not_the_run_record(
    flowy: Flowy, project: Path
) -> None:
    done = flowy("run", "pipeline.py", "--stack", "secure")
    assert_no_secret(done.stdout + done.stderr, "flowy run")
    digest = hashlib.sha256(TOKEN.encode()).hexdigest()
    assert (project / "tracked.txt").read_text() == digest  # the real value was used

    run_id = next(line.split()[1] for line in done.stdout.splitlines() if line.startswith("Run "))
    for args in (("runs", "show", run_id), ("runs", "show", run_id, "--json"), ("runs", "list")):
        out = flowy(*args, "--stack", "secure")
        assert_no_secret(out.stdout + out.stderr, " ".join(args))
    recorded = json.loads(flowy("runs", "show", run_id, "--stack", "secure", "--json").stdout)
    tracker = recorded["stack"]["components"]["tracker"]["options"]
    assert tracker["token"] == "****" and tracker["path"].endswith("tracked.txt")

    with sqlite3.connect(project / ".flowy" / "secure.db") as db:
        rows = db.execute("SELECT stack FROM runs").fetchall()
    assert rows and all("****" in row[0] for row in rows)
    assert_no_secret(json.dumps(rows), "the runs table")
    for path in (project / ".flowy").rglob("*"):
        if path.is_file() and path.parent.name != "stacks":
            data = path.read_bytes()
            for secret in SECRETS:
                assert secret.encode() not in data, f"{secret!r} was written to {path}"

    missing = flowy("runs", "show", "0000ghost", "--stack", "secure", code=1)
    assert_no_secret(missing.stdout + missing.stderr, "runs show of an unknown id")


def test_runs_recorded_with_a_literal_secret_are_masked_when_shown(
    flowy: Flowy, project: Path
) -> None:
    """A run recorded before masking covered query parameters still shows none of it."""
    done = flowy("run", "pipeline.py", "--stack", "secure")
    run_id = next(line.split()[1] for line in done.stdout.splitlines() if line.startswith("Run "))
    with sqlite3.connect(project / ".flowy" / "secure.db") as db:
        (text,) = db.execute("SELECT stack FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        stack = json.loads(text)
        options = stack["components"]["metadata_store"]["options"]
        options["url"] = f"sqlite:///x.db?password={DB_PASSWORD}"  # as the old code recorded it
        stack["components"]["tracker"]["options"]["token"] = TOKEN
        db.execute("UPDATE runs SET stack = ? WHERE run_id = ?", (json.dumps(stack), run_id))
    for args in (("runs", "show", run_id), ("runs", "show", run_id, "--json")):
        out = flowy(*args, "--stack", "secure")
        assert_no_secret(out.stdout + out.stderr, " ".join(args))
    shown = json.loads(flowy("runs", "show", run_id, "--stack", "secure", "--json").stdout)
    assert shown["stack"]["components"]["tracker"]["options"]["token"] == "****"


def test_a_damaged_database_is_named_without_the_password_in_its_url(
    flowy: Flowy, project: Path
) -> None:
    damaged = project / ".flowy" / "damaged.db"
    damaged.write_bytes(b"not a database, and never was " * 200)
    (project / ".flowy" / "stacks" / "damaged.toml").write_text(
        SECURE.replace("secure.db?", "damaged.db?")
        .replace("[tracker]", "[unused]", 1)
        .split("[unused]")[0]
    )
    for args in (("runs", "list", "--stack", "damaged"), ("run", "pipeline.py", "-s", "damaged")):
        done = flowy(*args, code=1)
        text = " ".join(done.stderr.split())
        assert_no_secret(text, " ".join(args))
        assert "damaged.db?password=****" in text and "damaged" in text, text
