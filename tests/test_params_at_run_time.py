"""Parameters given when a run starts, through the real ``flowy run`` command (issue #12).

A parameter the context lacks can be given with ``--param`` (or
``pipeline.run(...)``); values are checked against the steps' annotations
before anything runs; ``--params FILE`` reads them from JSON, TOML or YAML.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

FLOWY_SCRIPT = Path(sys.executable).with_name("flowy")
FLOWY = [str(FLOWY_SCRIPT)] if FLOWY_SCRIPT.exists() else [sys.executable, "-m", "flowy_cli.main"]
FIRST_PARTY = "flowy-executor-local,flowy-store-sqlite,flowy-materializers"

PIPELINE = """
    from __future__ import annotations

    import json
    from pathlib import Path

    from flowy import Pipeline, step


    @step
    def make(n: int, lr: float, flags: list[str], seed) -> dict:
        Path("ran.json").write_text(json.dumps(
            {"n": n, "lr": lr, "flags": flags, "seed": seed,
             "types": [type(v).__name__ for v in (n, lr, flags, seed)]}
        ))
        return {"n": n}


    @step
    def report(make: dict, n: int) -> int:
        return make["n"] + n


    pipeline = Pipeline("typed", [make, report], context={"flags": []})
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("params")
    runner(base, base / "home")("init", "proj")
    root = base / "proj"
    (root / "typed.py").write_text(textwrap.dedent(PIPELINE))
    return root


def runner(cwd: Path, home: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWY_")}
    env.update(FLOWY_HOME=str(home), COLUMNS="200", FLOWY_LOAD_PLUGINS=FIRST_PARTY)

    def flowy(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*FLOWY, *args], cwd=cwd, env=env, capture_output=True, text=True,
            timeout=120, check=False,
        )  # fmt: skip

    return flowy


def flowy(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (project / "ran.json").unlink(missing_ok=True)
    return runner(project, project.parent / "home")(*args)


def error(done: subprocess.CompletedProcess[str]) -> str:
    """A user error before anything ran: exit 1, no traceback, the step never called."""
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and "Error:" in done.stderr, done.stderr
    return " ".join(done.stderr.split())


def ran(project: Path) -> dict:
    return json.loads((project / "ran.json").read_text())


def test_param_supplies_what_the_context_lacks(project: Path) -> None:
    done = flowy(project, "run", "typed.py", "--param", "n=2", "--param", "lr=0.1", "-p", "seed=7")
    assert done.returncode == 0, done.stderr
    assert ran(project)["n"] == 2 and ran(project)["seed"] == 7


def test_a_run_still_missing_a_parameter_fails_before_anything_runs(project: Path) -> None:
    text = error(flowy(project, "run", "typed.py", "--param", "lr=0.1", "--param", "seed=1"))
    assert "needs parameter 'n' (taken by steps 'make', 'report')" in text
    assert "Pass --param n=VALUE" in text
    assert not (project / "ran.json").exists()


def test_values_are_coerced_to_the_steps_annotations(project: Path) -> None:
    done = flowy(
        project, "run", "typed.py",
        "--param", "n=3", "--param", "lr=1", "--param", 'flags=["a", "b"]', "--param", "seed=5",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert ran(project) == {
        "n": 3, "lr": 1.0, "flags": ["a", "b"], "seed": 5,
        "types": ["int", "float", "list", "int"],
    }  # fmt: skip


def test_a_value_of_the_wrong_type_names_parameter_step_type_and_fix(project: Path) -> None:
    text = error(flowy(project, "run", "typed.py", "-p", "n=abc", "-p", "lr=1", "-p", "seed=1"))
    assert "Parameter 'n' of pipeline 'typed' must be int" in text
    assert "annotated in steps 'make', 'report'" in text and "got 'abc'" in text
    assert "Pass a value of type int (--param n=VALUE)" in text
    assert not (project / "ran.json").exists()


def test_params_file_with_param_overriding_it(project: Path) -> None:
    (project / "p.json").write_text('{"n": 1, "lr": 0.5, "seed": 0}')
    (project / "p.toml").write_text('n = 2\nlr = 0.25\nseed = "s"\n')
    done = flowy(project, "run", "typed.py", "--params", "p.json", "--param", "n=9")
    assert done.returncode == 0, done.stderr
    assert ran(project)["n"] == 9 and ran(project)["lr"] == 0.5
    done = flowy(project, "run", "typed.py", "--params", "p.toml")
    assert done.returncode == 0, done.stderr
    assert ran(project)["seed"] == "s" and ran(project)["n"] == 2
    (project / "bad.json").write_text('{"n": "many", "lr": 1, "seed": 0}')
    assert "'n' of pipeline 'typed' must be int" in error(
        flowy(project, "run", "typed.py", "--params", "bad.json")
    )
    assert "must end in .json, .toml, .yaml or .yml" in error(
        flowy(project, "run", "typed.py", "--params", "p.ini")
    )


def test_misspelt_param_and_stack_get_a_did_you_mean(project: Path) -> None:
    text = error(flowy(project, "run", "typed.py", "--param", "lrr=1"))
    assert "Unknown parameter(s) lrr" in text and "Did you mean 'lr' for 'lrr'?" in text
    text = error(
        flowy(project, "run", "typed.py", "-p", "n=1", "-p", "lr=1", "-p", "seed=1", "-s", "lcoal")
    )
    assert "No stack named 'lcoal'" in text and "Did you mean 'local'?" in text


def test_pipeline_run_supplies_missing_parameters(project: Path) -> None:
    """``pipeline.run(n=...)`` from Python, as ``--param`` from the command line."""
    script = (
        "import importlib.util, sys\n"
        "spec = importlib.util.spec_from_file_location('typed', 'typed.py')\n"
        "mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)\n"
        "try:\n"
        "    mod.pipeline.run(lr=1)\n"
        "except Exception as exc:\n"
        "    print('ERROR', type(exc).__name__, exc)\n"
        "result = mod.pipeline.run(n='4', lr=1, seed=2)\n"
        "print('OK', result.ok)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWY_")}
    env.update(FLOWY_HOME=str(project.parent / "home"), FLOWY_LOAD_PLUGINS=FIRST_PARTY)
    (project / "ran.json").unlink(missing_ok=True)
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=project, env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "ERROR ParameterError" in done.stdout and "'n'" in done.stdout
    assert "OK True" in done.stdout
    assert ran(project)["n"] == 4 and ran(project)["types"][0] == "int"
