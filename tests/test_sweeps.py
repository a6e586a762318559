"""Parameter sweeps (issue #14): ``flowy run --sweep`` and ``Pipeline.sweep``.

Each CLI test runs the real ``flowy`` command in a fresh project and reads what
happened back from the project's SQLite metadata store: which runs exist, their
parameters, experiment and steps. ``load`` takes no swept parameter, so it must
run once for the whole sweep (one ``completed`` record, the others ``cached``);
``train`` and ``evaluate`` depend on ``alpha``/``depth`` and run in every run.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flowy.tracking.client import Client

Flowy = Callable[..., subprocess.CompletedProcess[str]]

PIPELINE = textwrap.dedent(
    """
    import time
    import flowy
    from flowy import Pipeline, step

    @step
    def load(size: int = 3) -> list:
        return list(range(size))

    @step
    def train(load: list, alpha: float = 0.1, depth: int = 3, nap: float = 0.0) -> float:
        time.sleep(nap)
        if alpha < 0:
            raise ValueError(f"alpha must be positive, got {alpha}")
        return sum(load) * alpha + depth

    @step
    def evaluate(train: float) -> float:
        flowy.log_metric("score", -abs(train - 5))
        return train

    pipeline = Pipeline("swept", [load, train, evaluate])
    """
)


@pytest.fixture
def proj(tmp_path: Path, flowy_env: Any, flowy_runner: Any) -> tuple[Path, Flowy]:
    root = tmp_path / "proj"
    (root / ".flowy").mkdir(parents=True)
    (root / "p.py").write_text(PIPELINE)
    env = flowy_env(tmp_path / "home", FLOWY_PROJECT=str(root))
    return root, flowy_runner(root, env)


def _store(root: Path) -> Any:
    return Client("local", root)


def _runs(root: Path) -> list[Any]:
    with _store(root) as client:
        return sorted(client.store.list_runs(limit=1000), key=lambda r: r.started_at)


def _steps(root: Path, run_id: str) -> dict[str, Any]:
    with _store(root) as client:
        return {s.step: s for s in client.store.get_step_runs(run_id)}


def _load_statuses(root: Path) -> list[str]:
    return sorted(_steps(root, r.run_id)["load"].status for r in _runs(root))


def test_grid_sweep_runs_each_combination_once_sharing_upstream(proj: tuple[Path, Flowy]) -> None:
    root, flowy = proj
    done = flowy(
        "run", "p.py", "--sweep", "alpha=0.5,1,2", "--sweep", "depth=3,5", "--sweep-parallel", "2"
    )
    runs = _runs(root)
    assert len(runs) == 6
    combos = sorted((r.params["alpha"], r.params["depth"]) for r in runs)
    assert combos == [(a, d) for a in (0.5, 1.0, 2.0) for d in (3, 5)]
    assert all(isinstance(r.params["alpha"], float) for r in runs)  # coerced by annotation
    assert all(isinstance(r.params["depth"], int) for r in runs)
    assert {r.experiment for r in runs} == {"swept"}
    sweep_ids = {r.params["flowy_sweep"] for r in runs}
    assert len(sweep_ids) == 1
    assert _load_statuses(root) == ["cached"] * 5 + ["completed"]
    for r in runs:
        assert _steps(root, r.run_id)["train"].status == "completed"
    # the final table: one row per combination with its run id, status and metric
    for r in runs:
        assert r.run_id in done.stdout
    assert "score" in done.stdout
    assert f"Sweep {sweep_ids.pop()}: 6 of 6 runs completed, experiment swept" in done.stdout
    assert "[6 running" not in done.stdout  # never more than --sweep-parallel at once
    assert "running" in done.stdout and "completed" in done.stdout


def test_experiment_best_ranks_the_sweeps_runs(proj: tuple[Path, Flowy]) -> None:
    root, flowy = proj
    flowy("run", "p.py", "--sweep", "alpha=0.1,0.5,1", "--sweep", "depth=1,3", "--experiment", "hp")
    runs = _runs(root)
    assert {r.experiment for r in runs} == {"hp"}
    # score = -|3 * alpha + depth - 5|: alpha=0.5 (1.5) with depth=3 gives 4.5, the closest to 5
    expected = next(r for r in runs if (r.params["alpha"], r.params["depth"]) == (0.5, 3))
    best = flowy("experiment", "best", "hp", "--metric", "score", "--json")
    data = json.loads(best.stdout)
    assert data["run_id"] == expected.run_id
    assert data["ranked"] == 6


def test_random_sweep_is_reproducible_with_a_seed(proj: tuple[Path, Flowy]) -> None:
    root, flowy = proj
    args = ["--sweep", "alpha=log:1e-3..1", "--sweep", "depth=int:2..8", "--sweep-random", "4"]
    flowy("run", "p.py", *args, "--seed", "7")
    first = [(r.params["alpha"], r.params["depth"]) for r in _runs(root)]
    flowy("run", "p.py", *args, "--seed", "7")
    second = [(r.params["alpha"], r.params["depth"]) for r in _runs(root)][4:]
    assert len(first) == 4
    assert sorted(first) == sorted(second)
    assert all(1e-3 <= a <= 1 and 2 <= d <= 8 and isinstance(d, int) for a, d in first)
    assert len({a for a, _ in first}) == 4  # really drawn, not one value repeated
    assert _load_statuses(root).count("completed") == 1  # shared across both sweeps


def test_sweep_file_with_grid_and_random(proj: tuple[Path, Flowy]) -> None:
    root, flowy = proj
    (root / "sweep.json").write_text(
        json.dumps(
            {"grid": {"depth": [1, 2]}, "random": {"alpha": "0..1"}, "samples": 2, "seed": 3}
        )
    )
    done = flowy("run", "p.py", "--sweep-file", "sweep.json")
    runs = _runs(root)
    assert len(runs) == 4
    assert sorted(r.params["depth"] for r in runs) == [1, 1, 2, 2]
    assert all(0 <= r.params["alpha"] <= 1 for r in runs)
    assert "seed 3" in done.stdout


def test_yaml_sweep_file_and_command_line_together(proj: tuple[Path, Flowy]) -> None:
    import yaml  # noqa: F401 - sweep files in YAML need PyYAML (installed by nox -s tests)

    root, flowy = proj
    (root / "sweep.yaml").write_text(
        "grid:\n  depth: [1, 2]\nrandom:\n  alpha: log:0.01..1\nsamples: 5\nseed: 4\n"
    )
    done = flowy(
        "run", "p.py", "--sweep-file", "sweep.yaml", "--sweep", "size=2,3",
        "--sweep-random", "1", "--seed", "9",
    )  # fmt: skip
    runs = _runs(root)
    assert len(runs) == 4  # 2 depths x 2 sizes x 1 draw: the command line's samples win
    assert sorted((r.params["depth"], r.params["size"]) for r in runs) == [
        (1, 2), (1, 3), (2, 2), (2, 3),
    ]  # fmt: skip
    assert "seed 9" in done.stdout
    again = flowy("run", "p.py", "--sweep-file", "sweep.yaml", "--sweep", "depth=5", code=None)
    assert again.returncode != 0
    assert "--sweep depth is also in the sweep file" in _said(again)


def test_a_failing_combination_fails_only_its_run(proj: tuple[Path, Flowy]) -> None:
    root, flowy = proj
    done = flowy("run", "p.py", "--sweep", "alpha=1,-1,2", "--sweep-parallel", "2", code=1)
    runs = {r.params["alpha"]: r for r in _runs(root)}
    assert {a: r.status for a, r in runs.items()} == {
        1.0: "completed",
        -1.0: "failed",
        2.0: "completed",
    }
    assert "2 of 3 runs completed" in done.stdout
    assert f"see flowy runs show {runs[-1.0].run_id}" in done.stdout


def test_no_cache_runs_every_step_in_every_run(proj: tuple[Path, Flowy]) -> None:
    root, flowy = proj
    flowy("run", "p.py", "--sweep", "alpha=1,2,3", "--no-cache", "--sweep-parallel", "2")
    assert _load_statuses(root) == ["completed"] * 3


def test_runs_overlap_when_parallel(proj: tuple[Path, Flowy]) -> None:
    """Two combinations with a 2 s step each, two at a time: their steps overlap in time."""
    root, flowy = proj
    flowy("run", "p.py", "--sweep", "size=4,5", "-p", "nap=2", "--sweep-parallel", "2")
    runs = _runs(root)
    trains = [_steps(root, r.run_id)["train"] for r in runs]
    assert len(trains) == 2
    assert max(t.started_at for t in trains) < min(t.finished_at for t in trains)


def test_sweep_parallel_one_runs_one_after_another(proj: tuple[Path, Flowy]) -> None:
    root, flowy = proj
    flowy("run", "p.py", "--sweep", "size=4,5", "-p", "nap=0.3", "--sweep-parallel", "1")
    trains = sorted(
        (_steps(root, r.run_id)["train"] for r in _runs(root)), key=lambda t: t.started_at
    )
    assert trains[0].finished_at <= trains[1].started_at


def _said(done: subprocess.CompletedProcess[str]) -> str:
    """What the command printed, lines unwrapped (errors are wrapped at the terminal width)."""
    return " ".join((done.stdout + done.stderr).split())


BAD = [
    (["--sweep", "alpah=1,2"], "Did you mean 'alpha'"),
    (["--sweep", "alpha="], "Sweep alpha has no values"),
    (["--sweep", "alpha=1,,2"], "has an empty value"),
    (["--sweep", "alpha=1,1"], "lists '1' twice"),
    (["--sweep", "alpha=log:0..1", "--sweep-random", "2"], "a log range needs 0 < LO"),
    (["--sweep", "alpha=2..1", "--sweep-random", "2"], "LO must be below HI"),
    (["--sweep", "depth=int:1.5..3", "--sweep-random", "2"], "an int range needs whole numbers"),
    (["--sweep", "alpha=log:1e-3..1"], "need a number of draws: add --sweep-random N"),
    (["--sweep", "alpha=1,2", "--sweep-random", "3"], "has no range to draw from"),
    (["--sweep", "alpha=0..1", "--sweep-random", "0"], "--sweep-random must be at least 1"),
    (["--sweep", "alpha=1,2", "-p", "alpha=3"], "alpha is both swept and set with --param"),
    (["--sweep", "alpha=1,2", "--sweep", "alpha=3"], "names 'alpha' twice"),
    (["--sweep", "depth=3,x"], "Parameter 'depth' of pipeline 'swept' must be int"),
    (["--sweep", "alpha=0..1", "--sweep-random", "5000"], "more than 1000"),
    (["--sweep", "alpha=1,2", "--sweep-parallel", "0"], "--sweep-parallel must be at least 1"),
    (["--sweep", "alpha=1,2", "--seed", "3"], "--seed sets the seed of random draws"),
    (["--sweep", "alpha=1,2", "--resume", "abc"], "cannot be combined with a sweep"),
    (["--sweep-file", "missing.yaml"], "Cannot read"),
    (["--sweep", "alpha=1,2", "--stack", "nope"], "nope"),
]


@pytest.mark.parametrize(("args", "message"), BAD, ids=[m for _, m in BAD])
def test_bad_sweep_is_refused_before_anything_runs(
    proj: tuple[Path, Flowy], args: list[str], message: str
) -> None:
    root, flowy = proj
    done = flowy("run", "p.py", *args, code=None)
    assert done.returncode != 0
    assert message in _said(done)
    assert "Traceback" not in done.stderr
    assert _runs(root) == []


def test_bad_sweep_file_is_refused(proj: tuple[Path, Flowy]) -> None:
    root, flowy = proj
    (root / "s.json").write_text(json.dumps({"grid": {"alpha": []}}))
    done = flowy("run", "p.py", "--sweep-file", "s.json", code=None)
    assert done.returncode != 0
    assert "grid 'alpha' must be a non-empty list" in _said(done)
    (root / "s.json").write_text(json.dumps({"grids": {"alpha": [1]}}))
    done = flowy("run", "p.py", "--sweep-file", "s.json", code=None)
    assert "unknown key(s) grids" in _said(done)
    assert _runs(root) == []
