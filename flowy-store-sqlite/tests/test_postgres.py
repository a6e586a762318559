"""The same contract on PostgreSQL: proof that no SQLite-only SQL slipped in.

Uses ``FLOWY_TEST_POSTGRES_URL`` when set; otherwise starts a throwaway server
with the local ``initdb``/``pg_ctl`` (as the ``postgres`` user when run as
root). Marked slow; CI installs PostgreSQL (.ci/run) and psycopg
(``flowy-store-sqlite[postgres]``), so a missing one is a failure, not a skip.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flowy.testing.metadata_store import MetadataStoreContract
from flowy_store_sqlite import queries
from flowy_store_sqlite.metadata import SQLMetadataStore

pytestmark = pytest.mark.slow


def _pg_tool(name: str) -> str | None:
    """``name`` on PATH, or in Debian's versioned folder (not on PATH by default)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    return str(candidates[-1]) if candidates else None


def _as_postgres() -> list[str]:
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.fail("running as root and there is no postgres user to run the server")
    return ["runuser", "-u", "postgres", "--"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    url = os.environ.get("FLOWY_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    initdb, pg_ctl = _pg_tool("initdb"), _pg_tool("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.fail(
            "no FLOWY_TEST_POSTGRES_URL and no local PostgreSQL (initdb, pg_ctl): install the "
            "postgresql package (.ci/run does) or run with -m 'not slow'"
        )
    prefix = _as_postgres()
    home = Path(tempfile.mkdtemp(prefix="flowy-pg-"))
    if prefix:
        shutil.chown(home, "postgres")
    data, port = home / "data", _free_port()
    init = [*prefix, initdb, "-D", str(data), "-U", "flowy", "--auth=trust"]
    subprocess.run(init, check=True, capture_output=True)
    options = f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={home}"
    subprocess.run(
        [*prefix, pg_ctl, "-D", str(data), "-o", options, "-w", "-l", str(home / "log"), "start"],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql+psycopg://flowy@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], check=False)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def pg_url(server_url: str) -> Iterator[str]:
    """A fresh database per test, dropped afterwards."""
    from sqlalchemy import create_engine, text

    name = f"flowy_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield server_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
        admin.dispose()


class TestPostgres(MetadataStoreContract):
    @pytest.fixture
    def store(self, pg_url: str) -> Iterator[SQLMetadataStore]:
        store = SQLMetadataStore(pg_url)
        yield store
        store.close()


def test_reopen_and_prepared_statements_go_direct(pg_url: str) -> None:
    SQLMetadataStore(pg_url).close()
    store = SQLMetadataStore(pg_url)  # the up-to-date path on a second open
    try:
        prepared = store._prepared
        assert prepared[queries.INSERT_STEP].direct and prepared[queries.INSERT_ARTIFACT].direct
        assert store.describe()["url"].startswith("postgresql+psycopg://")
    finally:
        store.close()


_NONFINITE = """
import flowy
from flowy import Pipeline, step


@step
def train() -> int:
    flowy.log_metric("loss", float("nan"))
    flowy.log_metric("grad_norm", float("inf"))
    flowy.log_metric("margin", float("-inf"))
    return 1


@step
def report(train: int) -> int:
    return train + 1


pipeline = Pipeline("nonfinite", [train, report])
"""


def test_nonfinite_metrics_through_a_real_run(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run logging NaN and ±inf completes on PostgreSQL and reads them back (issue #11)."""
    import math

    from flowy.run.engine import run_pipeline
    from flowy.run.loader import load_pipeline

    project = tmp_path / "project"
    (project / ".flowy" / "stacks").mkdir(parents=True)
    (project / ".flowy" / "stacks" / "pg.toml").write_text(
        f'[executor]\ntype = "local"\n[metadata_store]\ntype = "sql"\nurl = "{pg_url}"\n'
        '[artifact_store]\ntype = "local"\npath = "{project}/.flowy/artifacts"\n'
    )
    (project / "pipe.py").write_text(_NONFINITE)
    monkeypatch.setenv("FLOWY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FLOWY_PROJECT", str(project))
    monkeypatch.setenv(
        "FLOWY_LOAD_PLUGINS", "flowy-executor-local,flowy-store-sqlite,flowy-materializers"
    )
    monkeypatch.chdir(project)
    result = run_pipeline(load_pipeline(str(project / "pipe.py")), stack="pg")
    assert result.ok, result
    store = SQLMetadataStore(pg_url)
    try:
        assert [s.status for s in store.get_step_runs(result.run_id)] == ["completed"] * 2
        values = {m.name: m.value for _, m in store.get_metrics(result.run_id)}
    finally:
        store.close()
    assert math.isnan(values["loss"])
    assert values["grad_norm"] == math.inf and values["margin"] == -math.inf
