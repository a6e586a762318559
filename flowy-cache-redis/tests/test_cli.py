"""The ``flowy`` command on machines sharing a Redis cache index (real subprocesses).

``flowy cache stats|limits|clear`` reach the shared index as well as the store,
``flowy gc`` keeps what live entries name and collects what evicted ones held,
a Redis outage is a warning (exit 0), a bad URL is refused when the stack is registered.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

FLOWY = [sys.executable, "-m", "flowy_cli.main"]
PIPE = textwrap.dedent(
    """
    from flowy import Pipeline, step

    @step
    def numbers() -> list:
        return list(range(100))

    @step
    def total(numbers: list) -> int:
        return sum(numbers)

    pipeline = Pipeline("shared", [numbers, total])
    """
)


LOADED = "flowy-executor-local,flowy-store-sqlite,flowy-materializers,flowy-cache-redis"


def _flowy(project: Path, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWY_")}
    env.update(
        FLOWY_HOME=str(project / "home"),
        FLOWY_ALLOW_NEW_INDEX="1",
        FLOWY_LOAD_PLUGINS=LOADED,  # exactly these, whatever else is installed
        COLUMNS="200",
    )
    done = subprocess.run(
        [*FLOWY, *args], cwd=project, env=env, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    assert done.returncode == code, f"flowy {args}: {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture
def machines(tmp_path: Path, redis_url: str, machine: Any) -> dict[str, Path]:
    shared = tmp_path / "artifacts"
    found = {}
    for name in ("a", "c"):
        found[name] = machine(tmp_path, shared, redis_url, name)
        (found[name] / "pipe.py").write_text(PIPE)
    found["shared"] = shared
    return found


def test_cache_commands_and_gc_reach_the_shared_index(machines: dict[str, Path]) -> None:
    a, c = machines["a"], machines["c"]
    _flowy(a, "run", "pipe.py", "--stack", "shared")
    stats = json.loads(_flowy(a, "cache", "stats", "--stack", "shared", "--json").stdout)
    assert stats["entries"] == 2 and stats["shared_index"]["entries"] == 2
    assert stats["shared_index"]["where"].startswith("redis at redis://127.0.0.1:")
    files = [p for p in machines["shared"].rglob("*") if p.is_file() and p.name[0] != "."]
    assert len(files) == 2
    # c has no row of a's artifacts: only the index keeps its gc from taking them.
    report = json.loads(_flowy(c, "gc", "--stack", "shared", "--json").stdout)
    assert report["files"] == []
    limits = json.loads(
        _flowy(c, "cache", "limits", "--stack", "shared", "--max-size", "1", "--json").stdout
    )
    assert limits["evicted"] == 2  # the shared entries (c's own store has none)
    assert {"*": {"ttl": None, "max_bytes": 1}} in limits["indexes"].values()
    report = json.loads(_flowy(c, "gc", "--stack", "shared", "--json").stdout)
    assert {Path(f["uri"]).name for f in report["files"]} >= {p.name for p in files}
    assert not any(p.exists() for p in files)
    _flowy(a, "cache", "limits", "--stack", "shared", "--clear")
    # a's files went with c's gc: its own entries no longer verify, the shared ones are gone.
    rerun = _flowy(a, "run", "pipe.py", "--stack", "shared").stdout
    assert "(2 completed)" in rerun
    cleared = _flowy(a, "cache", "clear", "--stack", "shared", "-y").stdout
    assert "Cleared" in cleared
    stats = json.loads(_flowy(a, "cache", "stats", "--stack", "shared", "--json").stdout)
    assert stats["entries"] == 0 and stats["shared_index"]["entries"] == 0


def test_an_outage_warns_and_a_bad_url_is_refused(
    machines: dict[str, Path], redis_server: Any
) -> None:
    a = machines["a"]
    redis_server.stop()
    done = _flowy(a, "run", "pipe.py", "--stack", "shared")
    assert "shared cache index (redis at redis://127.0.0.1:" in " ".join(done.stderr.split())
    assert " ".join(done.stderr.split()).count("shared cache index") == 1
    stats = _flowy(a, "cache", "stats", "--stack", "shared", code=1)
    assert "did not answer" in " ".join(stats.stderr.split())
    bad = _flowy(
        a, "stack", "register", "bad", "--executor", "local", "--metadata-store", "sqlite",
        "--metadata-store-option", "url=sqlite:///{project}/.flowy/b.db", "--artifact-store",
        "local", "--artifact-store-option", "path=x", "--component", "cache_index=redis",
        "--option", "cache_index.url=http://cache:6379", code=1,
    )  # fmt: skip
    assert "is not a Redis URL; write it as redis://HOST:PORT/DB" in " ".join(bad.stderr.split())
