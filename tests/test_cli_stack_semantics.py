"""Stack semantics through the real `flowy` command: secrets, precedence, overrides, bad files.

A throwaway tracker distribution (module plus ``*.dist-info`` on PYTHONPATH)
takes a ``token`` option, so a stack can carry a secret the way a real one
would: as an ``{env:NAME}`` reference.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

FLOWY_SCRIPT = Path(sys.executable).with_name("flowy")
FLOWY = [str(FLOWY_SCRIPT)] if FLOWY_SCRIPT.exists() else [sys.executable, "-m", "flowy_cli.main"]
PLUGINS = "flowy-executor-local,flowy-store-sqlite,flowy-materializers,flowy-token-tracker"
SECRET = "tok-3f9a-very-secret"

PIPELINE = """
from flowy import Pipeline, step


@step
def answer() -> int:
    return 42


pipeline = Pipeline("tiny", [answer])
"""

TRACKER = """
from pathlib import Path

from flowy import hookimpl


@hookimpl
def flowy_register_trackers(register):
    register("token", "flowy_token_tracker:TokenTracker")


class TokenTracker:
    def __init__(self, token: str, path: str) -> None:
        self.token, self.path = token, Path(path)

    @hookimpl
    def flowy_pipeline_finished(self, run, status):
        # Proves the secret reached the component, without writing it anywhere.
        self.path.write_text(f"{status} token-length={len(self.token)}")
"""

Flowy = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    site = tmp_path / "site"
    site.mkdir()
    (site / "flowy_token_tracker.py").write_text(textwrap.dedent(TRACKER))
    info = site / "flowy_token_tracker-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: flowy-token-tracker\nVersion: 1.0\n"
    )
    (info / "entry_points.txt").write_text("[flowy]\nflowy-token-tracker = flowy_token_tracker\n")
    base = {k: v for k, v in os.environ.items() if not k.startswith("FLOWY_")}
    return {
        **base,
        "FLOWY_HOME": str(tmp_path / "home"),
        "FLOWY_LOAD_PLUGINS": PLUGINS,
        "PYTHONPATH": str(site),
        "COLUMNS": "200",
    }


def runner(project: Path, env: dict[str, str]) -> Flowy:
    project.mkdir(parents=True, exist_ok=True)
    (project / ".flowy").mkdir(exist_ok=True)
    (project / "pipeline.py").write_text(PIPELINE)

    def flowy(*args: str, code: int = 0, **extra: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [*FLOWY, *args], cwd=project, env={**env, **extra}, capture_output=True, text=True,
            timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == code, f"{args}: {done.returncode}\n{done.stdout}{done.stderr}"
        return done

    return flowy


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return tmp_path / "project"


@pytest.fixture
def flowy(project: Path, env: dict[str, str]) -> Flowy:
    return runner(project, env)


def register(flowy: Flowy, name: str, *extra: str, db: str | None = None) -> None:
    db = db or name
    flowy(
        "stack", "register", name, "--executor", "local",
        "--metadata-store", "sqlite", "--metadata-store-option",
        f"url=sqlite:///{{project}}/.flowy/{db}.db",
        "--artifact-store", "local", "--artifact-store-option", f"path={{project}}/.flowy/{db}",
        *extra,
    )  # fmt: skip


def run_id(done: subprocess.CompletedProcess[str]) -> str:
    return next(line.split()[1] for line in done.stdout.splitlines() if line.startswith("Run "))


def files_under(*roots: Path) -> Iterator[Path]:
    for root in roots:
        yield from (p for p in root.rglob("*") if p.is_file())


def test_env_secret_reaches_the_component_but_is_never_written_or_shown(
    flowy: Flowy, project: Path, tmp_path: Path
) -> None:
    # register needs the variable set: it checks that the stack resolves.
    flowy(
        "stack", "register", "secure", "--executor", "local",
        "--metadata-store", "sqlite", "--metadata-store-option", "url=sqlite:///{project}/.flowy/s.db",
        "--artifact-store", "local", "--artifact-store-option", "path={project}/.flowy/s",
        "--tracker", "token", "--tracker-option", "token={env:TRACKER_TOKEN}",
        "--tracker-option", "path={project}/tracked.txt", TRACKER_TOKEN=SECRET,
    )  # fmt: skip
    stack_file = (project / ".flowy" / "stacks" / "secure.toml").read_text()
    assert 'token = "{env:TRACKER_TOKEN}"' in stack_file and SECRET not in stack_file
    assert 'provided_by = "flowy-token-tracker"' in stack_file

    outputs = [
        flowy("stack", "describe", "secure", "--json", TRACKER_TOKEN=SECRET),
        flowy("stack", "describe", "secure", TRACKER_TOKEN=SECRET),
        flowy("stack", "export", "secure", TRACKER_TOKEN=SECRET),
        flowy("stack", "switch", "secure", TRACKER_TOKEN=SECRET),
    ]
    done = flowy("run", "pipeline.py", TRACKER_TOKEN=SECRET)
    outputs.append(done)
    assert (project / "tracked.txt").read_text() == f"completed token-length={len(SECRET)}"
    shown = flowy("runs", "show", run_id(done), "--json", TRACKER_TOKEN=SECRET)
    outputs.append(shown)
    recorded = json.loads(shown.stdout)["stack"]  # RunRecord.stack, as the store keeps it
    assert recorded["components"]["tracker"]["options"]["token"] == "{env:TRACKER_TOKEN}"
    assert SECRET not in json.dumps(recorded)
    for out in outputs:
        assert SECRET not in out.stdout + out.stderr
    for path in files_under(project, tmp_path / "home"):
        assert SECRET.encode() not in path.read_bytes(), f"the secret was written to {path}"

    missing = flowy("run", "pipeline.py", code=1)
    assert "TRACKER_TOKEN, which is not set" in " ".join(missing.stderr.split())


def test_active_stack_per_project_with_user_default_and_one_run_overrides(
    env: dict[str, str], tmp_path: Path
) -> None:
    one = runner(tmp_path / "one", env)
    two = runner(tmp_path / "two", env)
    register(one, "team", "--user")  # a user-level stack, visible from every project
    one("stack", "switch", "team", "--user")  # the user-level default
    assert _active(one) == _active(two) == "team"
    two("stack", "switch", "local")  # project two chooses its own
    assert (_active(one), _active(two)) == ("team", "local")

    first = run_id(two("run", "pipeline.py", "--stack", "team"))
    second = run_id(two("run", "pipeline.py", FLOWY_STACK="team"))
    assert _active(two) == "local"  # overrides were for one run only
    in_team = {
        r["run_id"] for r in json.loads(two("runs", "list", "--stack", "team", "--json").stdout)
    }
    in_local = {r["run_id"] for r in json.loads(two("runs", "list", "--json").stdout)}
    assert {first, second} <= in_team and not {first, second} & in_local
    assert (
        json.loads(two("runs", "show", first, "--stack", "team", "--json").stdout)["stack"]["name"]
        == "team"
    )


def _active(flowy: Flowy) -> str:
    return next(
        s["name"] for s in json.loads(flowy("stack", "list", "--json").stdout) if s["active"]
    )


def test_precedence_project_over_user_over_plugin_and_describe_says_where(
    flowy: Flowy, project: Path
) -> None:
    flowy("stack", "copy", "local", "local", "--user", code=1)  # names must be new
    register(flowy, "shared", "--user", db="user-shared")
    register(flowy, "shared", db="project-shared")  # same name, project scope: allowed
    listed = {s["name"]: s for s in json.loads(flowy("stack", "list", "--json").stdout)}
    assert listed["shared"]["scope"] == "project" and listed["local"]["scope"] == "plugin"
    described = json.loads(flowy("stack", "describe", "shared", "--json").stdout)
    assert described["source"] == f"project: {project / '.flowy' / 'stacks' / 'shared.toml'}"
    assert "project-shared" in described["components"]["metadata_store"]["options"]["url"]
    assert (
        "flowy-core" in json.loads(flowy("stack", "describe", "local", "--json").stdout)["source"]
    )
    flowy("stack", "delete", "shared", "--yes")  # the project's goes; the user's shows through
    assert json.loads(flowy("stack", "describe", "shared", "--json").stdout)["scope"] == "user"


def test_broken_stack_file_is_listed_with_its_error_and_the_rest_works(
    flowy: Flowy, project: Path
) -> None:
    bad = project / ".flowy" / "stacks" / "bad.toml"
    bad.parent.mkdir(parents=True)
    bad.write_text('description = "oops"\nexecutor = "local"\n')
    listed = {s["name"]: s for s in json.loads(flowy("stack", "list", "--json").stdout)}
    assert "field executor" in listed["bad"]["error"] and listed["local"]["error"] is None
    assert "invalid" in flowy("stack", "list").stdout
    for args in (
        ("stack", "describe", "bad"),
        ("stack", "switch", "bad"),
        ("run", "pipeline.py", "--stack", "bad"),
    ):
        text = " ".join(flowy(*args, code=1).stderr.split())
        assert str(bad) in text and "stack 'bad'" in text and "field executor" in text
    flowy("run", "pipeline.py")  # the active stack is unaffected
    flowy("stack", "delete", "bad", "--yes")
    assert not bad.exists()


def test_stack_command_errors(flowy: Flowy, project: Path) -> None:
    def error(*args: str) -> str:
        done = flowy(*args, code=1)
        assert "Traceback" not in done.stderr
        return " ".join(done.stderr.split())

    assert "No stack named 'ghost'" in error("stack", "describe", "ghost")
    assert "No stack named 'ghost'" in error("stack", "export", "ghost")
    assert "No stack named 'ghost'" in error("stack", "switch", "ghost")
    assert "stacks offered by plugins cannot be deleted" in error(
        "stack", "delete", "ghost", "--yes"
    )
    assert "pip install flowy-aws" in error("stack", "copy", "aws", "mine")
    wrong = project / "wrong.toml"
    wrong.write_text(
        '[executor]\ntype = "local"\nmax_workers = "many"\n[metadata_store]\ntype = "sqlite"\n'
        'url = "sqlite:///w.db"\n[artifact_store]\ntype = "local"\npath = "w"\n'
    )
    text = error("stack", "import", str(wrong))
    assert "wrong.toml" in text and "field executor.max_workers" in text
    assert not (project / ".flowy" / "stacks" / "wrong.toml").exists()
    register(flowy, "dup")
    assert "already exists" in error("stack", "register", "dup", "--executor", "local")
    flowy("stack", "switch", "dup")
    assert "is the active stack" in error("stack", "delete", "dup", "--yes")
