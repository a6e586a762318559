"""``flowy run --only/--from/--to``: partial runs as Kedro users expect (issue #12 item 9).

Each test runs the real ``flowy`` command in a fresh project. Every step
appends its name to a marks file when it executes, so a test can tell which
steps really ran, and ``fit`` writes the input it was given. ``load`` is
cached (its outputs come back from the cache); ``features`` is not (its
outputs come from the latest run that completed it).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from flowy.tracking.client import Client

Flowy = Callable[..., subprocess.CompletedProcess[str]]

PIPELINE = textwrap.dedent(
    """
    import json
    from pathlib import Path
    from flowy import Pipeline, step

    def mark(name):
        with open("marks.txt", "a") as f:
            f.write(name + "\\n")

    @step
    def load(seed: int = 1):
        mark("load")
        return [seed, seed + 1, seed + 2]

    @step(cache=False)
    def features(load):
        mark("features")
        return [x * 10 for x in load]

    @step(cache=False)
    def fit(features):
        mark("fit")
        Path("fit_input.json").write_text(json.dumps(features))
        return sum(features)

    @step(cache=False)
    def evaluate(fit):
        mark("evaluate")
        return fit + 1

    @step(cache=False)
    def summary(load):
        mark("summary")
        return len(load)

    pipeline = Pipeline("partial", [load, features, fit, evaluate, summary])
    """
)


@pytest.fixture
def cli(
    tmp_path: Path, flowy_env: Callable[..., dict[str, str]], flowy_runner: Callable[..., Flowy]
):
    """Run the real ``flowy`` in a fresh project holding the pipeline above."""
    project = tmp_path / "project"
    (project / ".flowy").mkdir(parents=True)
    (project / "p.py").write_text(PIPELINE)
    env = flowy_env(tmp_path / "home", FLOWY_PROJECT=str(project), COLUMNS="200")
    run = flowy_runner(project, env)

    def flowy(*args: str) -> subprocess.CompletedProcess[str]:
        return run(*args, code=None)

    flowy.env = env  # type: ignore[attr-defined]  # for a plain `python` in the project
    return project, flowy


def _marks(project: Path) -> list[str]:
    path = project / "marks.txt"
    return path.read_text().split() if path.exists() else []


def _full_run(project: Path, flowy, *args: str) -> None:
    done = flowy("run", "p.py", *args)
    assert done.returncode == 0, done.stdout + done.stderr
    (project / "marks.txt").unlink()


def _latest_steps(project: Path) -> dict[str, tuple[str, str | None]]:
    with Client("local", project) as client:
        run = client.runs()[0]
        return {s.step: (s.status, s.error) for s in client.steps(run.run_id)}


def test_only_a_middle_step_reuses_upstream_outputs(cli) -> None:
    project, flowy = cli
    _full_run(project, flowy, "--param", "seed=2")
    done = flowy("run", "p.py", "--only", "fit", "--param", "seed=2")
    assert done.returncode == 0, done.stdout + done.stderr
    assert _marks(project) == ["fit"]  # nothing else executed
    assert json.loads((project / "fit_input.json").read_text()) == [20, 30, 40]
    steps = _latest_steps(project)
    assert steps["fit"][0] == "completed"
    for name in ("load", "features", "evaluate", "summary"):
        assert steps[name] == ("skipped", "skipped: not selected (--only fit)"), name


def test_from_and_to_select_downstream_and_upstream(cli) -> None:
    project, flowy = cli
    _full_run(project, flowy)
    done = flowy("run", "p.py", "--from", "features")
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(_marks(project)) == ["evaluate", "features", "fit"]
    assert _latest_steps(project)["load"] == ("skipped", "skipped: not selected (--from features)")
    (project / "marks.txt").unlink()

    done = flowy("run", "p.py", "--to", "fit", "--no-cache")
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(_marks(project)) == ["features", "fit", "load"]
    steps = _latest_steps(project)
    assert steps["evaluate"][0] == steps["summary"][0] == "skipped"
    (project / "marks.txt").unlink()

    done = flowy("run", "p.py", "--from", "features", "--to", "fit")
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(_marks(project)) == ["features", "fit"]
    assert _latest_steps(project)["evaluate"][1] == (
        "skipped: not selected (--from features --to fit)"
    )


def test_missing_upstream_outputs_stop_the_run_before_it_starts(cli) -> None:
    project, flowy = cli
    done = flowy("run", "p.py", "--only", "fit")
    assert done.returncode != 0
    text = " ".join((done.stdout + done.stderr).split())
    assert "step 'fit' needs 'features' from step 'features'" in text, text
    assert "Run the full pipeline once, or widen the selection" in text, text
    assert _marks(project) == []
    with Client("local", project) as client:
        assert client.runs() == []


def test_unknown_step_name_lists_steps_and_suggests(cli) -> None:
    project, flowy = cli
    done = flowy("run", "p.py", "--only", "fitt")
    assert done.returncode != 0
    text = " ".join((done.stdout + done.stderr).split())
    assert "has no step 'fitt'. Did you mean 'fit'?" in text, text
    assert "load, features" in text and "summary" in text, text
    done = flowy("run", "p.py", "--from", "fit", "--to", "features")
    assert done.returncode != 0
    assert "--from fit --to features selects no step" in " ".join(done.stderr.split())
    assert _marks(project) == []


def test_a_damaged_recorded_output_is_not_used(cli) -> None:
    """Outputs from an earlier run are checked against their checksums, as cache hits are."""
    project, flowy = cli
    _full_run(project, flowy, "--param", "seed=1")
    _full_run(project, flowy, "--param", "seed=2")
    with Client("local", project) as client:
        newest, older = (r.run_id for r in client.runs()[:2])
        newest_features = Path(client.outputs(newest)["features"].uri)
        older_features = Path(client.outputs(older)["features"].uri)
    newest_features.write_text("[1, 2, 3]")  # damaged after it was recorded
    done = flowy("run", "p.py", "--only", "fit")
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads((project / "fit_input.json").read_text()) == [10, 20, 30]  # the older run's

    older_features.write_text("[4, 5, 6]")
    done = flowy("run", "p.py", "--only", "fit")
    assert done.returncode != 0
    assert "has no cached or recorded output" in " ".join((done.stdout + done.stderr).split())


def test_pipeline_run_takes_the_selection_as_keywords(cli) -> None:
    project, flowy = cli
    _full_run(project, flowy)
    code = "import p; r = p.pipeline.run(from_step='fit', to_step='fit'); print(r.status, r['fit'])"
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=project,
        env=flowy.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.split()[-2:] == ["completed", "60"]
    assert _marks(project) == ["fit"]
