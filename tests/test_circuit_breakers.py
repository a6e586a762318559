"""Circuit breakers and fallbacks on steps (issue 15): real runs on a real SQLite store.

* three ``flowy run`` processes at once, with a flaky step, against one store:
  the breaker's transitions are asserted from the store (closed -> open after N
  failures, not attempted while open, the half-open trial held by exactly one
  run, re-opened by a failed trial, closed by a successful one);
* the fallback as a value, a step and a callable; without one, the step is
  skipped with "circuit open" and so is what only it feeds;
* options checked when the step is made; ``flowy circuits list|reset``.

No timing assertions: the breaker's ``reset_after`` comes from the pipeline
file's environment (an hour, or a hundredth of a second), a trial is held as
long as the step's timeout, and the trial step waits for a file the test writes.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flowy import Pipeline, step
from flowy.kernel.errors import StepDefinitionError
from flowy.run.engine import run_pipeline
from flowy.stacks.resolution import resolve_stack
from flowy.testing._executor_support import load_path_module

# -- options --------------------------------------------------------------------


def _fn(x: int) -> int:
    return x


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ({"failures": 3, "reset": 60}, r"unknown keys \['reset'\]"),
        ({"failures": 0}, "failures=0 must be a whole number >= 1"),
        ({"failures": -2}, "failures=-2"),
        ({"failures": True}, "failures=True"),
        ({"failures": 2.5}, "failures=2.5"),
        ({"reset_after": 0}, "reset_after=0 must be a finite number of seconds > 0"),
        ({"reset_after": -1}, "reset_after=-1"),
        ({"reset_after": math.nan}, "reset_after=nan"),
        ({"reset_after": math.inf}, "reset_after=inf"),
        ({"reset_after": "600"}, "reset_after='600'"),
        ({"reset_after": True}, "reset_after=True"),
        ([3, 600], "must be a dict"),
        (3, "must be a dict"),
    ],
)
def test_bad_breaker_options_are_refused_when_the_step_is_made(option: Any, message: str) -> None:
    with pytest.raises(StepDefinitionError, match=message):
        step(circuit_breaker=option)(_fn)


def test_good_options_and_defaults() -> None:
    assert step(circuit_breaker=True)(_fn).circuit_breaker is not None
    options = step(circuit_breaker={"failures": 1, "reset_after": 0.5})(_fn).circuit_breaker
    assert options is not None and (options.failures, options.reset_after) == (1, 0.5)
    assert step(_fn).circuit_breaker is None and step(_fn).fallback is None


def test_bad_fallbacks_are_refused_when_the_step_is_made() -> None:
    with pytest.raises(StepDefinitionError, match="has none; add one"):
        step(fallback=0)(_fn)
    with pytest.raises(StepDefinitionError, match=r"takes \['y'\], which the step does not"):
        step(circuit_breaker=True, fallback=lambda x, y: x)(_fn)
    with pytest.raises(StepDefinitionError, match="is the step itself"):
        step(circuit_breaker=True, fallback=_fn)(_fn)
    with pytest.raises(StepDefinitionError, match="cannot guard a mapped step"):
        step(circuit_breaker=True, map="x")(_fn)
    # A fallback's parameters with defaults need not be the step's.
    step(circuit_breaker=True, fallback=lambda x, y=1: x + y)(_fn)


# -- in-process runs: fallbacks and skips -------------------------------------------

FLAKY = """
from pathlib import Path
from flowy import Pipeline, step

@step
def size() -> int:
    return 7

@step
def backup(size: int) -> dict:
    return {{"source": "backup", "size": size}}

FALLBACK = {fallback}

@step(cache=True, circuit_breaker={{"failures": 1, "reset_after": 3600}}, fallback=FALLBACK)
def fetch(size: int, down: str) -> dict:
    if Path(down).exists():
        raise ConnectionError("service down")
    return {{"source": "service", "size": size}}

@step(cache=False)
def report(fetch: dict) -> str:
    return f"{{fetch['source']}}:{{fetch['size']}}"

@step(cache=False)
def summary(size: int, fetch: dict | None = None) -> str:
    return f"size {{size}}, fetched {{'nothing' if fetch is None else fetch['source']}}"

pipeline = Pipeline("flaky_{name}", [size, fetch, report, summary])
"""


def _records(project: Path, plugins: Any, run_id: str) -> dict[str, Any]:
    stack = resolve_stack("local", plugins, project)
    try:
        return {r.step: r for r in stack.metadata_store.get_step_runs(run_id)}
    finally:
        stack.close()


def _store_call(project: Path, plugins: Any, call: Callable[[Any], Any]) -> Any:
    stack = resolve_stack("local", plugins, project)
    try:
        return call(stack.metadata_store)
    finally:
        stack.close()


@pytest.mark.parametrize(
    ("name", "fallback", "expected"),
    [
        ("value", '{"source": "default", "size": 0}', "default:0"),
        ("step", "backup", "backup:7"),
        ("callable", 'lambda size: {"source": "callable", "size": size * 2}', "callable:14"),
    ],
)
def test_an_open_breaker_supplies_the_fallback_recorded_with_its_reason(
    name: str, fallback: str, expected: str, project: Path, plugins: Any, tmp_path: Path
) -> None:
    module = load_path_module(tmp_path, f"flaky_{name}", FLAKY.format(fallback=fallback, name=name))
    down = tmp_path / "down"
    params = {"down": str(down)}
    ok = run_pipeline(module.pipeline, params=params, plugins=plugins)
    assert ok.ok and ok["report"] == "service:7"  # closed: the step runs (and is cached)
    _store_call(project, plugins, lambda s: s.circuit_reset())  # forget that success
    down.touch()
    failed = run_pipeline(module.pipeline, params=params, plugins=plugins, no_cache=True)
    assert not failed.ok  # one failure opens it (failures=1)
    [state] = _store_call(project, plugins, lambda s: s.circuit_states())
    assert (state.state, state.failures) == ("open", 1)
    assert state.last_error == "ConnectionError: service down"

    fell = run_pipeline(module.pipeline, params=params, plugins=plugins, no_cache=True)
    assert fell.ok  # a fallback is the degraded answer the pipeline asked for
    assert fell["report"] == expected
    got = _records(project, plugins, fell.run_id)
    rec = got["fetch"]
    assert rec.status == "fallback"
    assert rec.error.startswith("circuit open since ")
    assert rec.error.endswith("1 consecutive failure: ConnectionError: service down")
    assert got["report"].status == "completed" and got["summary"].status == "completed"
    # Its output is a real artifact, consumed downstream (lineage).
    assert got["report"].inputs["fetch"] == rec.outputs["fetch"]
    artifact = _store_call(project, plugins, lambda s: s.artifact_info(rec.outputs["fetch"]))
    assert artifact.step == "fetch" and artifact.run_id == fell.run_id
    if name == "callable":  # it took the step's input `size`, and consumed it
        assert rec.inputs == {"size": got_size(project, plugins, fell.run_id)}
    if name == "value":
        assert rec.inputs == {}
    # Never cached as the step's result: once closed, the (cached) step's own result is back.
    down.unlink()
    _store_call(project, plugins, lambda s: s.circuit_reset("flaky_" + name))
    again = run_pipeline(module.pipeline, params=params, plugins=plugins)
    assert again["report"] == "service:7"
    assert _records(project, plugins, again.run_id)["fetch"].status == "cached"


def got_size(project: Path, plugins: Any, run_id: str) -> str:
    return str(_records(project, plugins, run_id)["size"].outputs["size"])


def test_without_a_fallback_the_step_and_what_only_it_feeds_are_skipped(
    project: Path, plugins: Any, tmp_path: Path
) -> None:
    module = load_path_module(tmp_path, "flaky_none", FLAKY.format(fallback="None", name="none"))
    down = tmp_path / "down"
    down.touch()
    params = {"down": str(down)}
    assert not run_pipeline(module.pipeline, params=params, plugins=plugins).ok
    skipped = run_pipeline(module.pipeline, params=params, plugins=plugins)
    assert skipped.ok
    got = _records(project, plugins, skipped.run_id)
    assert got["fetch"].status == "skipped"
    assert got["fetch"].error.startswith("skipped: circuit open since ")
    assert got["report"].status == "skipped"  # it needs fetch
    assert got["summary"].status == "completed"  # fetch is a defaulted input: it runs
    assert skipped["summary"] == "size 7, fetched nothing"


def test_a_failing_fallback_fails_the_step_with_both_reasons(
    project: Path, plugins: Any, tmp_path: Path
) -> None:
    source = FLAKY.format(fallback="lambda: 1 / 0", name="broken")
    module = load_path_module(tmp_path, "flaky_broken", source)
    down = tmp_path / "down"
    down.touch()
    params = {"down": str(down)}
    run_pipeline(module.pipeline, params=params, plugins=plugins)
    result = run_pipeline(module.pipeline, params=params, plugins=plugins)
    assert not result.ok
    rec = _records(project, plugins, result.run_id)["fetch"]
    assert rec.status == "failed"
    assert "circuit open since" in rec.error
    assert "its fallback failed: ZeroDivisionError" in rec.error


def test_a_fallback_fills_every_output_of_a_step_with_several() -> None:
    @step(
        outputs=["a", "b"],
        circuit_breaker={"failures": 1, "reset_after": 60},
        fallback=lambda: (0, "none"),
    )
    def two() -> tuple[int, str]:
        raise RuntimeError("down")

    assert two.fallback is not None
    Pipeline("two_outputs", [two])  # builds


# -- three processes, one store -------------------------------------------------------

SERVICE = """
import os
import time
from pathlib import Path

from flowy import Pipeline, step

HERE = Path(__file__).parent
RESET = float(os.environ.get("RESET_AFTER", "3600"))


def cached_answer(n: int) -> str:
    return f"stale answer for {n}"


@step(
    cache=False,
    timeout=600,  # a trial is held as long as the step may take
    circuit_breaker={"failures": 3, "reset_after": RESET},
    fallback=cached_answer,
)
def ask(n: int) -> str:
    with open(HERE / "attempts", "a") as f:
        f.write(f"{os.getpid()}\\n")
    if os.environ.get("GATE"):  # hold the attempt until the test releases it
        (HERE / f"entered-{os.getpid()}").touch()
        deadline = time.time() + 300
        while not (HERE / "release").exists() and time.time() < deadline:
            time.sleep(0.05)
    if (HERE / "down").exists():
        raise ConnectionError("service down")
    return f"fresh answer for {n}"


@step(cache=False)
def use(ask: str) -> str:
    return ask.upper()


pipeline = Pipeline("service", [ask, use])
"""


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


class Service:
    """A project with the SERVICE pipeline, driven by concurrent `flowy run` processes."""

    def __init__(self, root: Path, env: dict[str, str], command: list[str], runner: Any):
        self.root, self.env, self.command = root, env, command
        self.flowy = runner(root, env)

    def start(self, **env: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [*self.command, "run", "service.py", "--param", "n=5"],
            cwd=self.root,
            env={**self.env, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def attempts(self) -> int:
        path = self.root / "attempts"
        return len(path.read_text().splitlines()) if path.exists() else 0

    def state(self) -> dict[str, Any]:
        [row] = json.loads(self.flowy("circuits", "list", "--json").stdout)
        return dict(row)

    def step_status(self) -> dict[str, str]:
        """run id -> status of its `ask` step, for every run so far."""
        runs = json.loads(self.flowy("runs", "list", "--json", "--limit", "1000").stdout)
        out = {}
        for run in runs:
            shown = json.loads(self.flowy("runs", "show", run["run_id"], "--json").stdout)
            out[run["run_id"]] = next(s["status"] for s in shown["steps"] if s["step"] == "ask")
        return out


def _finish(procs: list[subprocess.Popen[str]]) -> list[tuple[int, str]]:
    return [(p.wait(timeout=300), p.stdout.read() if p.stdout else "") for p in procs]


# The PostgreSQL server fixtures of flowy-store-sqlite's tests (a throwaway server).
_spec = importlib.util.spec_from_file_location(
    "flowy_breaker_pg_fixtures",
    Path(__file__).parents[1] / "flowy-store-sqlite" / "tests" / "test_postgres.py",
)
assert _spec is not None and _spec.loader is not None
_pg = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_pg)
server_url = _pg.server_url
pg_url = _pg.pg_url


@pytest.mark.slow
@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_three_processes_share_one_breaker_through_the_store(
    database: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    flowy_env: Callable[..., dict[str, str]],
    flowy_runner: Callable[..., Any],
    flowy_command: list[str],
) -> None:
    root = tmp_path / "project"
    (root / ".flowy" / "stacks").mkdir(parents=True)
    (root / "service.py").write_text(SERVICE)
    stack = {}
    if database == "postgres":  # one PostgreSQL database shared by every process
        url = request.getfixturevalue("pg_url")
        (root / ".flowy" / "stacks" / "pg.toml").write_text(
            f'[executor]\ntype = "local"\n[metadata_store]\ntype = "sql"\nurl = "{url}"\n'
            '[artifact_store]\ntype = "local"\npath = "{project}/.flowy/artifacts"\n'
        )
        stack = {"FLOWY_STACK": "pg"}
    env = flowy_env(tmp_path / "home", FLOWY_PROJECT=str(root), **stack)
    service = Service(root, env, flowy_command, flowy_runner)
    # The store's schema first: three processes creating a fresh PostgreSQL database's
    # tables at once race each other (a first-open matter, not the breaker's).
    assert "No circuit breakers recorded" in service.flowy("circuits", "list").stdout

    # Closed: three concurrent runs against a service that is down all attempt and fail,
    # and their three failures open the breaker (failures=3).
    (root / "down").touch()
    done = _finish([service.start() for _ in range(3)])
    assert [code for code, _ in done] == [1, 1, 1], done
    assert service.attempts() == 3, done
    state = service.state()
    assert (state["state"], state["failures"]) == ("open", 3)
    assert state["last_error"] == "ConnectionError: service down"
    opened = state["opened_at"]

    # Open (reset_after an hour): three runs do not attempt the step; the fallback answers.
    done = _finish([service.start() for _ in range(3)])
    assert [code for code, _ in done] == [0, 0, 0], done
    assert service.attempts() == 3
    for _, out in done:
        assert "ask: fallback  circuit open since" in out
        assert "3 consecutive failures: ConnectionError: service down" in out
    assert service.state()["opened_at"] == opened

    # Due (reset_after 0.01 s): of three runs, exactly one holds the trial (its attempt
    # waits for the test); the other two fall back meanwhile. The trial fails: open again.
    due = {"RESET_AFTER": "0.01", "GATE": "1"}
    procs = [service.start(**due) for _ in range(3)]
    _wait_for(lambda: len(list(root.glob("entered-*"))) == 1, "the trial's attempt")
    _wait_for(lambda: sum(p.poll() is not None for p in procs) == 2, "two runs to fall back")
    trial = service.state()
    assert trial["state"] == "half_open" and trial["trial_run_id"]
    assert len(list(root.glob("entered-*"))) == 1  # nobody else attempted it
    (root / "release").touch()
    done = _finish(procs)
    assert sorted(code for code, _ in done) == [0, 0, 1], done
    assert service.attempts() == 4
    state = service.state()
    assert (state["state"], state["failures"], state["trial_run_id"]) == ("open", 4, None)
    assert state["opened_at"] > opened

    # The service is back: the next trial (one of three runs again) closes the breaker.
    (root / "down").unlink()
    (root / "release").unlink()
    for entered in root.glob("entered-*"):
        entered.unlink()
    procs = [service.start(**due) for _ in range(3)]
    _wait_for(lambda: len(list(root.glob("entered-*"))) == 1, "the second trial")
    _wait_for(lambda: sum(p.poll() is not None for p in procs) == 2, "two runs to fall back")
    (root / "release").touch()
    done = _finish(procs)
    assert [code for code, _ in done] == [0, 0, 0], done
    assert service.attempts() == 5
    state = service.state()
    assert (state["state"], state["failures"], state["opened_at"]) == ("closed", 0, None)

    # Closed: every run attempts the step again.
    done = _finish([service.start() for _ in range(3)])
    assert [code for code, _ in done] == [0, 0, 0], done
    assert service.attempts() == 8
    statuses = sorted(service.step_status().values())
    assert statuses == ["completed"] * 4 + ["failed"] * 4 + ["fallback"] * 7


@pytest.mark.slow
def test_a_run_killed_holding_the_trial_does_not_block_the_breaker(
    tmp_path: Path,
    flowy_env: Callable[..., dict[str, str]],
    flowy_runner: Callable[..., Any],
    flowy_command: list[str],
) -> None:
    root = tmp_path / "project"
    (root / ".flowy").mkdir(parents=True)
    (root / "service.py").write_text(SERVICE)
    env = flowy_env(tmp_path / "home", FLOWY_PROJECT=str(root))
    service = Service(root, env, flowy_command, flowy_runner)
    service.flowy("run", "service.py", "--param", "n=1")  # the breaker's row, closed
    service.flowy("circuits", "open", "service", "ask")
    holder = subprocess.Popen(
        [*flowy_command, "run", "service.py", "--param", "n=1"],
        cwd=root,
        env={**env, "RESET_AFTER": "0.01", "GATE": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its step's worker too
    )
    try:
        _wait_for(lambda: len(list(root.glob("entered-*"))) == 1, "the trial's attempt")
        assert service.state()["trial_run_id"]
    finally:
        os.killpg(holder.pid, signal.SIGKILL)
        holder.wait(60)
    # Its run is still recorded running, its trial held for the step's timeout (600 s);
    # but its process is gone, so the next run takes the trial, and closes the breaker.
    done = _finish([service.start(RESET_AFTER="0.01")])
    assert done[0][0] == 0, done
    assert service.attempts() == 3
    state = service.state()
    assert (state["state"], state["trial_run_id"]) == ("closed", None)


_NO_SQLALCHEMY = """
import sys
from flowy_cli.main import main
try:
    main(["run", "service.py", "--param", "n=1"])
except SystemExit:
    pass
print("sqlalchemy imported:", "sqlalchemy" in sys.modules)
"""


@pytest.mark.slow
def test_a_guarded_step_on_the_default_stack_does_not_import_sqlalchemy(
    tmp_path: Path, flowy_env: Callable[..., dict[str, str]], flowy_runner: Callable[..., Any]
) -> None:
    """The stdlib SQLite store answers the breaker itself (SQLAlchemy costs ~0.5 s here)."""
    import sys

    root = tmp_path / "project"
    (root / ".flowy").mkdir(parents=True)
    (root / "service.py").write_text(SERVICE)
    env = flowy_env(tmp_path / "home", FLOWY_PROJECT=str(root))
    flowy = flowy_runner(root, env)
    flowy("run", "service.py", "--param", "n=1")
    flowy("circuits", "open", "service", "ask")
    for expected in ("ask: fallback", "ask: done"):  # open (its fallback), then closed
        done = subprocess.run(
            [sys.executable, "-c", _NO_SQLALCHEMY],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert expected in done.stdout, done.stdout + done.stderr
        assert "sqlalchemy imported: False" in done.stdout, done.stdout + done.stderr
        flowy("circuits", "reset", "--all")


# -- the command line -----------------------------------------------------------------


def _words(text: str) -> str:
    """``text`` with its line breaks (a narrow terminal's wrapping) as single spaces."""
    return " ".join(text.split())


@pytest.mark.slow
def test_circuits_list_reset_and_runs_show(
    tmp_path: Path, flowy_env: Callable[..., dict[str, str]], flowy_runner: Callable[..., Any]
) -> None:
    root = tmp_path / "project"
    (root / ".flowy").mkdir(parents=True)
    (root / "service.py").write_text(SERVICE)
    flowy = flowy_runner(root, flowy_env(tmp_path / "home", FLOWY_PROJECT=str(root)))

    empty = flowy("circuits", "list")
    assert "No circuit breakers recorded" in empty.stdout
    assert json.loads(flowy("circuits", "list", "--json").stdout) == []
    (root / "down").touch()
    for _ in range(3):
        flowy("run", "service.py", "--param", "n=1", code=1)
    listed = flowy("circuits", "list").stdout
    assert "service" in listed and "ask" in listed and "open" in listed
    assert "ConnectionError: service down" in listed

    fell = flowy("run", "service.py", "--param", "n=1")
    run_id = fell.stdout.split("Details: flowy runs show ")[1].split()[0]
    shown = _words(flowy("runs", "show", run_id).stdout)
    assert "fallback" in shown and "circuit open since" in shown

    # Errors name what is wrong and what there is.
    assert "name what to reset" in _words(flowy("circuits", "reset", code=2).stderr)
    both = flowy("circuits", "reset", "service", "--all", code=2).stderr
    assert "name what to reset" in _words(both)
    unknown = _words(flowy("circuits", "reset", "nope", code=1).stderr)
    assert "no circuit breaker of pipeline 'nope'; pipelines with one: service" in unknown
    no_step = _words(flowy("circuits", "reset", "service", "nope", code=1).stderr)
    assert "no circuit breaker on step 'nope'; its breakers: ask" in no_step

    assert "no circuit breaker on step 'x'" in _words(
        flowy("circuits", "open", "service", "x", code=1).stderr
    )
    reset = _words(flowy("circuits", "reset", "service", "ask").stdout)
    assert "service/ask: closed (was open, 3 consecutive failures)" in reset
    [row] = json.loads(flowy("circuits", "list", "--json").stdout)
    assert (row["state"], row["failures"], row["last_error"]) == ("closed", 0, None)
    flowy("run", "service.py", "--param", "n=1", code=1)  # attempted again (and down)
    opened = flowy("circuits", "open", "service", "ask", "--reason", "maintenance").stdout
    assert "service/ask: open (maintenance)" in _words(opened)
    fell = flowy("run", "service.py", "--param", "n=1")  # not attempted: its fallback
    assert (
        "circuit open since" in fell.stdout and "1 consecutive failure: maintenance" in fell.stdout
    )
    assert "closed" in flowy("circuits", "reset", "--all").stdout
