"""Whole pipelines through the real ``flowy`` command, in subprocesses.

Each test works in a temporary project with FLOWY_HOME pointed at a
temporary folder, so the user's configuration is never read or written.
Projects are shared within the module where a test only adds runs, to keep
the module fast; tests that change the active stack, settings or files get
their own project.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

FLOWY_SCRIPT = Path(sys.executable).with_name("flowy")
FLOWY = [str(FLOWY_SCRIPT)] if FLOWY_SCRIPT.exists() else [sys.executable, "-m", "flowy_cli.main"]

FIRST_PARTY = "flowy-executor-local,flowy-store-sqlite,flowy-materializers"

Flowy = Callable[..., subprocess.CompletedProcess[str]]


def make_runner(project: Path, home: Path, extra_env: dict[str, str] | None = None) -> Flowy:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWY_")}
    # Only the first-party plugins (plus what a test adds): other distributions that
    # happen to be installed must not change what these tests see.
    env.update(FLOWY_HOME=str(home), COLUMNS="200", FLOWY_LOAD_PLUGINS=FIRST_PARTY)
    env.update(extra_env or {})

    def flowy(
        *args: str,
        code: int | None = 0,
        env_update: dict[str, str] | None = None,
        stdin: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [*FLOWY, *args],
            cwd=project,
            env={**env, **(env_update or {})},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            input=stdin,
        )
        if code is not None:
            assert done.returncode == code, (
                f"flowy {' '.join(args)} exited {done.returncode}, expected {code}\n"
                f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
            )
        return done

    return flowy


def user_error(done: subprocess.CompletedProcess[str], *fragments: str) -> str:
    """A user error: non-zero, one 'Error:' paragraph, no traceback; returns the text."""
    assert done.returncode != 0
    text = " ".join(done.stderr.split())
    assert "Error:" in text, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    for fragment in fragments:
        assert fragment in text, f"{fragment!r} not in:\n{done.stderr}"
    return text


STATES = {"running", "done", "cached", "failed", "timed", "skipped"}


def step_states(stdout: str) -> dict[str, str]:
    """``step: state`` lines of a non-TTY `flowy run` (the last state of each step)."""
    states: dict[str, str] = {}
    for line in stdout.splitlines():
        name, sep, rest = line.partition(": ")
        state = rest.split()[0] if rest.split() else ""
        if sep and " " not in name and state in STATES:
            states[name] = state
    return states


def run_id_of(stdout: str) -> str:
    for line in stdout.splitlines():
        if line.startswith("Run "):
            return line.split()[1]
    raise AssertionError(f"no run id in:\n{stdout}")


CHAIN = """
from flowy import Context, Pipeline, step


@step
def load(size: int) -> list:
    return list(range(size))


@step
def double(load: list) -> list:
    return [2 * x for x in load]


@step
def total(double: list) -> int:
    print("total is", sum(double))
    return sum(double)


@step
def side(size: int) -> str:
    return "independent" * size


chain = Pipeline("chain", steps=[load, double, total, side], context=Context(size=4))
"""


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Flowy]:
    """One project made by `flowy init`, shared by tests that only add runs."""
    base = tmp_path_factory.mktemp("cli")
    flowy = make_runner(base, base / "home")
    done = flowy("init", "proj")
    assert "Created a Flowy project" in done.stdout
    project = base / "proj"
    return project, make_runner(project, base / "home")


@pytest.fixture
def fresh(tmp_path: Path) -> tuple[Path, Flowy]:
    """A project of its own, for tests that change stacks, settings or files."""
    project = tmp_path / "proj"
    flowy = make_runner(tmp_path, tmp_path / "home")
    flowy("init", "proj")
    return project, make_runner(project, tmp_path / "home")


# -- init, run, runs -------------------------------------------------------


def test_init_run_then_runs_list_shows_the_run(shared: tuple[Path, Flowy]) -> None:
    project, flowy = shared
    assert (project / ".flowy").is_dir() and (project / "pipeline.py").is_file()
    first = flowy("run", "pipeline.py")
    assert set(step_states(first.stdout).values()) == {"done"}
    run_id = run_id_of(first.stdout)
    listed = json.loads(flowy("runs", "list", "--json").stdout)
    assert run_id in [r["run_id"] for r in listed]
    assert run_id[:12] in flowy("runs", "list").stdout

    again = flowy("run", "pipeline.py")
    assert set(step_states(again.stdout).values()) == {"cached"}, again.stdout
    assert "4 cached" in again.stdout

    details = json.loads(flowy("runs", "show", run_id[:8], "--json").stdout)
    assert details["params"] == {"n_samples": 200, "noise": 1.0}
    assert details["stack"]["name"] == "local"
    assert "python" in details["environment"]
    steps = {s["step"]: s for s in details["steps"]}
    assert list(steps) == ["generate", "clean", "train", "evaluate"]
    assert steps["train"]["outputs"]["train"]["type_name"] == "builtins.list"
    assert steps["train"]["outputs"]["train"]["checksum"]
    assert steps["evaluate"]["metrics"][0]["name"] == "mse"
    human = flowy("runs", "show", run_id).stdout
    assert "evaluate" in human and "mse=" in human

    logs = flowy("logs", run_id, "--step", "clean").stdout
    assert "kept" in logs and "points" in logs
    assert "generated 200 points" in flowy("logs", run_id).stdout
    user_error(flowy("logs", run_id, "--step", "nope", code=1), "no step 'nope'")
    user_error(flowy("runs", "show", "ffffffffffff", code=1), "ffffffffffff")


def test_run_with_param_and_filters(shared: tuple[Path, Flowy]) -> None:
    _, flowy = shared
    done = flowy("run", "pipeline.py", "--param", "noise=0.25", "-p", "n_samples=50")
    states = step_states(done.stdout)
    assert states["generate"] == "done"
    run_id = run_id_of(done.stdout)
    shown = json.loads(flowy("runs", "show", run_id, "--json").stdout)
    assert shown["params"] == {"n_samples": 50, "noise": 0.25}
    assert json.loads(flowy("runs", "list", "--status", "failed", "--json").stdout) == []
    limited = json.loads(flowy("runs", "list", "--pipeline", "example", "-n", "1", "--json").stdout)
    assert [r["run_id"] for r in limited] == [run_id]


def test_editing_a_step_reruns_it_and_its_descendants_only(shared: tuple[Path, Flowy]) -> None:
    project, flowy = shared
    path = project / "chain.py"
    path.write_text(CHAIN)
    assert set(step_states(flowy("run", "chain.py").stdout).values()) == {"done"}
    assert set(step_states(flowy("run", "chain.py:chain").stdout).values()) == {"cached"}

    path.write_text(CHAIN.replace("[2 * x for x in load]", "[3 * x for x in load]"))
    explained = json.loads(flowy("cache", "explain", "chain.py", "--json").stdout)
    verdicts = {s["step"]: s for s in explained["steps"]}
    assert verdicts["load"]["verdict"] == "hit"
    assert verdicts["side"]["verdict"] == "hit"
    assert verdicts["double"]["verdict"] == "miss"
    assert verdicts["double"]["changed"] == ["code_hash"]
    assert "input from 'double' will be recomputed" in verdicts["total"]["reason"]
    assert "code" in flowy("cache", "explain", "chain.py").stdout

    states = step_states(flowy("run", "chain.py").stdout)
    assert states == {"load": "cached", "double": "done", "total": "done", "side": "cached"}

    explained = json.loads(flowy("cache", "explain", "chain.py", "-p", "size=5", "--json").stdout)
    load = explained["steps"][0]
    assert load["verdict"] == "miss" and load["changed"] == ["input_hash"]
    assert "parameter size: 4 -> 5" in load["details"]


# -- errors -----------------------------------------------------------------


BROKEN = {
    "cycle.py": (
        "from flowy import Pipeline, step\n"
        "@step\ndef a(b): return 1\n"
        "@step\ndef b(a): return 2\n"
        "p = Pipeline('cyc', steps=[a, b])\n",
        ["cycle", "a -> b"],
    ),
    "missing_input.py": (
        "from flowy import Pipeline, step\n"
        "@step(inputs=['features'])\ndef train(features): return 1\n"
        "p = Pipeline('mi', steps=[train])\n",
        ["needs input 'features'", "no step produces it"],
    ),
    "missing_param.py": (
        "from flowy import Pipeline, step\n"
        "@step\ndef train(rate): return rate\n"
        "p = Pipeline('mp', steps=[train])\n",
        ["parameter 'rate'", "--param rate=VALUE"],
    ),
    "syntax.py": (
        "from flowy import step\ndef broken(:\n    pass\n",
        ["syntax.py:2", "syntax error"],
    ),
    "empty.py": ("x = 1\n", ["defines no pipeline"]),
    "raises.py": ("import flowy\nraise ValueError('bad setup')\n", ["raises.py:2", "bad setup"]),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_bad_pipeline_files_are_clear_errors(shared: tuple[Path, Flowy], name: str) -> None:
    project, flowy = shared
    source, fragments = BROKEN[name]
    (project / "broken").mkdir(exist_ok=True)
    (project / "broken" / name).write_text(source)
    user_error(flowy("run", f"broken/{name}", code=1), *fragments)


def test_cli_user_errors(shared: tuple[Path, Flowy]) -> None:
    project, flowy = shared
    user_error(flowy("run", "nothere.py", code=1), "nothere.py does not exist")
    user_error(
        flowy("run", "pipeline.py", "--param", "colour=red", code=1), "Unknown parameter", "colour"
    )
    user_error(flowy("run", "pipeline.py", "--param", "novalue", code=2), "KEY=VALUE")
    user_error(flowy("run", "pipeline.py:nope", code=1), "no pipeline named 'nope'")
    user_error(flowy("run", "pipeline.py", "--stack", "ghost", code=1), "No stack named 'ghost'")
    user_error(
        flowy("run", "pipeline.py", "--executor-option", "max_workers=0", code=1), "max_workers"
    )
    user_error(flowy("frobnicate", code=2), "No such command")
    (project / "two.py").write_text(
        "from flowy import Pipeline, step\n@step\ndef a(): return 1\n"
        "p1 = Pipeline('one', steps=[a])\np2 = Pipeline('two', steps=[a])\n"
    )
    user_error(flowy("run", "two.py", code=1), "several pipelines", "two.py:p1")
    debug = flowy("--debug", "run", "broken/cycle.py", code=1)
    assert "Traceback" in debug.stderr and "Error:" in debug.stderr


def test_failed_step_exit_code_and_hint(shared: tuple[Path, Flowy]) -> None:
    project, flowy = shared
    (project / "fails.py").write_text(
        textwrap.dedent("""
        from flowy import Pipeline, step

        @step
        def boom() -> int:
            print("about to fail")
            raise RuntimeError("kaput")

        @step
        def after(boom: int) -> int:
            return boom

        @step
        def other() -> int:
            return 7

        @step(timeout=0.5, cache=False)
        def sleepy() -> int:
            import time
            time.sleep(30)
            return 1

        p = Pipeline("fails", steps=[boom, after, other, sleepy])
    """)
    )
    done = flowy("run", "fails.py", "--executor-option", "max_workers=1", code=1)
    states = step_states(done.stdout)
    assert states == {
        "boom": "failed",
        "after": "skipped",
        "other": "done",
        "sleepy": "timed",
    }, done.stdout
    assert "sleepy: timed out" in done.stdout
    run_id = run_id_of(done.stdout)
    assert "RuntimeError: kaput" in done.stdout
    assert f"flowy logs {run_id} --step boom" in done.stdout
    assert "about to fail" in flowy("logs", run_id, "--step", "boom").stdout
    failed = json.loads(flowy("runs", "list", "--status", "failed", "--json").stdout)
    assert run_id in [r["run_id"] for r in failed]
    shown = json.loads(flowy("runs", "show", run_id, "--json").stdout)
    boom = next(s for s in shown["steps"] if s["step"] == "boom")
    assert boom["status"] == "failed" and "kaput" in boom["error"]


def test_bad_config_file_is_reported(fresh: tuple[Path, Flowy]) -> None:
    project, flowy = fresh
    config = project / ".flowy" / "config.toml"
    config.write_text("progress = 'sometimes'\n")
    user_error(flowy("run", "pipeline.py", code=1), str(config), "progress")
    user_error(flowy("config", "show", code=1), str(config))
    config.write_text("progress = [unclosed\n")
    user_error(flowy("runs", "list", code=1), "not valid TOML", str(config))


def test_corrupted_artifact(fresh: tuple[Path, Flowy]) -> None:
    project, flowy = fresh
    run_id = run_id_of(flowy("run", "pipeline.py").stdout)
    ref = json.loads(
        flowy("artifacts", "list", "--run", run_id, "--name", "train", "--json").stdout
    )[0]
    assert json.loads(flowy("artifacts", "show", ref["artifact_id"], "--json").stdout)["value"]
    path = Path(ref["uri"])
    data = bytearray(path.read_bytes())
    data[3] ^= 0xFF
    path.write_bytes(bytes(data))
    user_error(flowy("artifacts", "show", ref["artifact_id"][:10], code=1), "corrupted", "checksum")
    # A cache hit whose artifact fails its checksum is a miss: the step runs again.
    states = step_states(flowy("run", "pipeline.py").stdout)
    assert states["train"] == "done" and states["generate"] == "cached"
    client_script = (
        f"from flowy.tracking.client import Client\nClient().load({ref['artifact_id']!r})\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", client_script],
        check=False,
        cwd=project,
        capture_output=True,
        text=True,
        env={**os.environ, "FLOWY_HOME": str(project.parent / "home")},
    )
    assert done.returncode == 1 and "ChecksumMismatchError" in done.stderr


# -- stacks -----------------------------------------------------------------


def test_second_stack_register_switch_run_lands_in_new_store(fresh: tuple[Path, Flowy]) -> None:
    project, flowy = fresh
    first = run_id_of(flowy("run", "pipeline.py").stdout)
    flowy(
        "stack",
        "register",
        "second",
        "--executor",
        "local",
        "--metadata-store",
        "sqlite",
        "--metadata-store-option",
        "url=sqlite:///{project}/.flowy/second.db",
        "--artifact-store",
        "local",
        "--artifact-store-option",
        "path={project}/.flowy/second-artifacts",
        "--description",
        "another store",
    )
    assert (project / ".flowy" / "stacks" / "second.toml").is_file()
    stacks = {s["name"]: s for s in json.loads(flowy("stack", "list", "--json").stdout)}
    assert stacks["local"]["active"] and not stacks["second"]["active"]
    assert stacks["second"]["scope"] == "project"
    described = json.loads(flowy("stack", "describe", "second", "--json").stdout)
    assert described["components"]["metadata_store"]["distribution"] == "flowy-store-sqlite"
    assert described["source"].startswith("project")
    assert "flowy-executor-local" in flowy("stack", "describe").stdout

    flowy("stack", "switch", "second")
    assert (
        json.loads(flowy("config", "show", "--json").stdout)["settings"]["active_stack"]["value"]
        == "second"
    )
    done = flowy("run", "pipeline.py")
    assert set(step_states(done.stdout).values()) == {"done"}  # new store: nothing cached
    second = run_id_of(done.stdout)
    assert (project / ".flowy" / "second.db").is_file()
    assert any((project / ".flowy" / "second-artifacts").iterdir())
    in_second = [r["run_id"] for r in json.loads(flowy("runs", "list", "--json").stdout)]
    in_local = [
        r["run_id"] for r in json.loads(flowy("runs", "list", "--stack", "local", "--json").stdout)
    ]
    assert in_second == [second]
    assert first in in_local and second not in in_local
    user_error(flowy("stack", "delete", "second", "--yes", code=1), "active stack")
    flowy("stack", "switch", "local")
    flowy("stack", "delete", "second", "--yes")
    assert "second" not in flowy("stack", "list").stdout


def test_stack_naming_uninstalled_executor_is_refused(
    fresh: tuple[Path, Flowy], tmp_path: Path
) -> None:
    project, _ = fresh
    # FLOWY_LOAD_PLUGINS leaves flowy-executor-dask out: its executor is "not installed" here.
    flowy = make_runner(project, tmp_path / "home")
    refused = flowy(
        "stack",
        "register",
        "dasky",
        "--executor",
        "dask",
        "--metadata-store",
        "sqlite",
        "--metadata-store-option",
        "url=sqlite:///x.db",
        "--artifact-store",
        "local",
        "--artifact-store-option",
        "path=x",
        code=1,
    )
    user_error(refused, "'dask'", "flowy-executor-dask")
    assert not (project / ".flowy" / "stacks" / "dasky.toml").exists()

    stacks = project / ".flowy" / "stacks"
    stacks.mkdir(parents=True, exist_ok=True)
    (stacks / "ghost.toml").write_text(
        '[executor]\ntype = "warp-drive"\n[metadata_store]\ntype = "sqlite"\n'
        'url = "sqlite:///{project}/.flowy/g.db"\n[artifact_store]\ntype = "local"\n'
        'path = "{project}/.flowy/g"\n'
    )
    user_error(flowy("stack", "switch", "ghost", code=1), "'warp-drive'", "executor")
    active = [s["name"] for s in json.loads(flowy("stack", "list", "--json").stdout) if s["active"]]
    assert active == ["local"]
    assert "warp-drive" in flowy("stack", "describe", "ghost").stdout
    described = json.loads(flowy("stack", "describe", "ghost", "--json").stdout)
    assert "warp-drive" in described["components"]["executor"]["error"]
    flowy("run", "pipeline.py")  # the active stack still works


def test_stack_update_copy_export_import(fresh: tuple[Path, Flowy]) -> None:
    project, flowy = fresh
    flowy("stack", "copy", "local", "mine")
    flowy(
        "stack",
        "update",
        "mine",
        "--metadata-store-option",
        "busy_timeout=5",
        "--description",
        "tuned",
    )
    exported = flowy("stack", "export", "mine").stdout
    assert 'description = "tuned"' in exported and "busy_timeout = 5" in exported
    (project / "shared.toml").write_text(exported)
    flowy("stack", "import", "shared.toml", "--name", "imported")
    described = json.loads(flowy("stack", "describe", "imported", "--json").stdout)
    assert described["components"]["metadata_store"]["options"]["busy_timeout"] == 5
    user_error(
        flowy("stack", "update", "mine", "--metadata-store-option", "colour=3", code=1), "colour"
    )
    user_error(flowy("stack", "copy", "local", "mine", code=1), "already exists")
    user_error(
        flowy("stack", "register", "bad name!", "--executor", "local", code=1), "Invalid stack name"
    )
    user_error(flowy("stack", "delete", "local", "--yes", code=1), "active stack")
    flowy("stack", "copy", "local", "userwide", "--user")
    listed = {s["name"]: s for s in json.loads(flowy("stack", "list", "--json").stdout)}
    assert listed["userwide"]["scope"] == "user"
    flowy("stack", "delete", "userwide", "--yes")


# -- plugins ----------------------------------------------------------------


def write_plugin(root: Path, dist: str, module: str, source: str) -> None:
    """A plugin 'installed' on a PYTHONPATH folder through a bare *.dist-info."""
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[flowy]\n{dist} = {module}\n")


def test_broken_plugin_is_reported_and_the_rest_keeps_working(
    fresh: tuple[Path, Flowy], tmp_path: Path
) -> None:
    project, _ = fresh
    site = tmp_path / "site"
    write_plugin(
        site, "flowy-broken", "flowy_broken_plugin", "raise RuntimeError('boom at import')\n"
    )
    write_plugin(
        site,
        "flowy-hello",
        "flowy_hello_plugin",
        """
        import click
        from flowy import hookimpl

        @hookimpl
        def flowy_register_commands(register):
            register("hello", "flowy_hello_plugin:hello", help="Say hello from a plugin.")

        @click.command()
        @click.option("--name", default="world")
        def hello(name):
            click.echo(f"hello {name}")
    """,
    )
    plugins_env = {
        "PYTHONPATH": str(site),
        "FLOWY_LOAD_PLUGINS": f"{FIRST_PARTY},flowy-broken,flowy-hello",
    }
    flowy = make_runner(project, tmp_path / "home", plugins_env)
    listed = json.loads(flowy("plugins", "--json").stdout)
    plugins = {p["name"]: p for p in listed["plugins"]}
    assert plugins["flowy-broken"]["status"] == "failed"
    assert "boom at import" in plugins["flowy-broken"]["error"]
    assert plugins["flowy-store-sqlite"]["status"] == "loaded"
    assert "metadata_store" in plugins["flowy-store-sqlite"]["provides"]
    assert "flowy_register_commands" in plugins["flowy-hello"]["hooks"]
    human = flowy("plugins").stdout
    assert "boom at import" in human and "flowy-hello" in human
    check = flowy("plugins", "check", code=1)
    assert "flowy-broken" in check.stdout and "boom at import" in check.stdout

    help_text = flowy("--help").stdout
    assert "hello" in help_text and "Say hello from a plugin." in help_text
    assert flowy("hello", "--name", "flowy").stdout.strip() == "hello flowy"
    assert set(step_states(flowy("run", "pipeline.py").stdout).values()) <= {"done", "cached"}

    ok = make_runner(
        project, tmp_path / "home", {**plugins_env, "FLOWY_DISABLE_PLUGINS": "flowy-broken"}
    )
    assert "no clashes" in ok("plugins", "check").stdout


def test_registration_clash_names_both_distributions(
    fresh: tuple[Path, Flowy], tmp_path: Path
) -> None:
    project, _ = fresh
    site = tmp_path / "site"
    write_plugin(
        site,
        "flowy-rival",
        "flowy_rival_plugin",
        """
        from flowy import hookimpl

        @hookimpl
        def flowy_register_executors(register):
            register("local", "flowy_rival_plugin:Nope")
    """,
    )
    flowy = make_runner(
        project,
        tmp_path / "home",
        {"PYTHONPATH": str(site), "FLOWY_LOAD_PLUGINS": f"{FIRST_PARTY},flowy-rival"},
    )
    clashes = json.loads(flowy("plugins", "--json").stdout)["clashes"]
    assert sorted(clashes[0]["distributions"]) == ["flowy-executor-local", "flowy-rival"]
    check = flowy("plugins", "check", code=1).stdout
    assert "flowy-executor-local" in check and "flowy-rival" in check
    # The default stack keeps working: flowy-core's `local` means flowy-executor-local's
    # executor (issue #12 item 12; tests/test_plugin_author_experience.py has the rest).
    assert "Run " in flowy("run", "pipeline.py").stdout


# -- cache and config -------------------------------------------------------


def test_cache_stats_and_clear(fresh: tuple[Path, Flowy]) -> None:
    _, flowy = fresh
    flowy("run", "pipeline.py")
    stats = json.loads(flowy("cache", "stats", "--json").stdout)
    assert stats["entries"] == 4 and stats["pipelines"] == {"example": 4}
    assert "4 cache entries" in flowy("cache", "stats").stdout
    declined = flowy("cache", "clear", "--step", "train", stdin="n\n", code=1)
    assert "Aborted" in declined.stderr
    assert "Cleared 1 cache entry" in flowy("cache", "clear", "--step", "train", "--yes").stdout
    states = step_states(flowy("run", "pipeline.py").stdout)
    assert states["train"] == "done" and states["clean"] == "cached"
    cleared = flowy("cache", "clear", "--pipeline", "example", stdin="y\n").stdout
    assert "Cleared 4 cache entries" in cleared
    assert json.loads(flowy("cache", "stats", "--json").stdout)["entries"] == 0
    assert set(step_states(flowy("run", "pipeline.py", "--no-cache").stdout).values()) == {"done"}


def test_config_show_and_set(fresh: tuple[Path, Flowy]) -> None:
    _, flowy = fresh
    settings = json.loads(flowy("config", "show", "--json").stdout)["settings"]
    assert settings["progress"] == {
        "value": True,
        "source": "default",
        "description": settings["progress"]["description"],
    }
    flowy("config", "set", "progress", "false")
    settings = json.loads(flowy("config", "show", "--json").stdout)["settings"]
    assert settings["progress"]["value"] is False
    assert settings["progress"]["source"].startswith("project")
    flowy("config", "set", "allow_pickle", "true", "--user")
    shown = flowy("config", "show").stdout
    assert "allow_pickle" in shown and "user" in shown
    env = json.loads(flowy("config", "show", "--json", env_update={"FLOWY_STACK": "local"}).stdout)[
        "settings"
    ]
    assert env["active_stack"]["source"] == "environment: FLOWY_STACK"
    user_error(flowy("config", "set", "colour", "blue", code=1), "Unknown setting 'colour'")
    user_error(flowy("config", "set", "progress", "maybe", code=1), "progress")
    user_error(flowy("config", "set", "active_stack", "ghost", code=1), "No stack named 'ghost'")


def test_init_refuses_to_overwrite(fresh: tuple[Path, Flowy]) -> None:
    project, flowy = fresh
    (project / "pipeline.py").write_text("# mine\n")
    user_error(flowy("init", ".", code=1), "pipeline.py", "--force")
    assert (project / "pipeline.py").read_text() == "# mine\n"
    flowy("init", ".", "--force")
    assert "Pipeline(" in (project / "pipeline.py").read_text()


def test_ctrl_c_exits_130(fresh: tuple[Path, Flowy]) -> None:
    project, _ = fresh
    (project / "slow.py").write_text(
        textwrap.dedent("""
        import time
        from flowy import Pipeline, step

        @step(cache=False)
        def slow() -> int:
            time.sleep(30)
            return 1

        p = Pipeline("slow", steps=[slow])
    """)
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWY_")}
    env["FLOWY_HOME"] = str(project.parent / "home")
    proc = subprocess.Popen(
        [*FLOWY, "run", "slow.py"],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    line = ""
    while time.monotonic() < deadline and "slow: running" not in line:
        line = proc.stdout.readline()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, (out, err)
    assert "Traceback" not in err and "cancelled" in out


def test_help_lists_every_command_quickly(shared: tuple[Path, Flowy]) -> None:
    _, flowy = shared
    text = flowy("--help").stdout
    for command in ("init", "run", "runs", "logs", "stack", "plugins", "cache", "config"):
        assert f"  {command} " in text
    assert flowy("--version").stdout.startswith("flowy ")
    for group in ("runs", "stack", "cache", "config", "plugins", "artifacts"):
        assert "Usage: flowy" in flowy(group, "--help").stdout
