"""``Pipeline.sweep`` and :func:`flowy.run.sweep.sweep` in this process (issue #14).

The sweeps run for real: forked workers, the project's SQLite store, the
first-party plugins registered explicitly (nothing autoloaded).
"""

from __future__ import annotations

from typing import Any

import pytest
from flowy.kernel.errors import ParameterError
from flowy.run import sweep_spec
from flowy.run.sweep import shared_steps, sweep

SOURCE = """
import os
import flowy
from flowy import Pipeline, step

@step
def load(size: int = 3) -> list:
    return list(range(size))

@step
def train(load: list, alpha: float = 0.1, depth: int = 3) -> float:
    if alpha == 13:
        os._exit(3)  # the worker process dies mid-run
    if alpha < 0:
        raise ValueError("alpha must be positive")
    return sum(load) * alpha + depth

@step
def evaluate(train: float) -> float:
    flowy.log_metric("score", -abs(train - 5))
    return train

@step
def report(load: list) -> int:
    return len(load)

pipeline = Pipeline("api-sweep", [load, train, evaluate, report])
"""


@pytest.fixture
def pipeline(project: Any, write_module: Any) -> Any:
    return write_module(SOURCE).pipeline


def _run(pipeline: Any, plugins: Any, spec: sweep_spec.SweepSpec, **kw: Any) -> Any:
    return sweep(pipeline, spec, plugins=lambda: plugins, **kw)


def test_shared_steps_are_those_no_swept_parameter_reaches(pipeline: Any) -> None:
    assert shared_steps(pipeline, ["alpha"]) == {"load", "report"}
    assert shared_steps(pipeline, ["size"]) == set()


def test_grid_sweep_returns_each_combinations_run(pipeline: Any, plugins: Any) -> None:
    spec = sweep_spec.from_mapping({"grid": {"alpha": [0.5, 1, 2], "depth": [3, 5]}}, "test")
    result = _run(pipeline, plugins, spec, parallel=2)
    assert result.ok and len(result) == 6, [
        (r.error, r.result and {k: v.error for k, v in r.result.steps.items()}) for r in result
    ]
    assert [r.values for r in result] == [
        {"alpha": a, "depth": d} for a in (0.5, 1.0, 2.0) for d in (3, 5)
    ]
    for run in result:
        assert run.result is not None and run.result.run_id == run.run_id
        assert run.result["train"] == 3 * run.values["alpha"] + run.values["depth"]
        assert run.metrics["score"] == -abs(run.result["train"] - 5)
    statuses = sorted(r.result.steps["load"].status for r in result)
    assert statuses == ["cached"] * 5 + ["completed"]
    assert sorted(r.result.steps["report"].status for r in result) == ["cached"] * 5 + ["completed"]
    assert result.best("score").values == {"alpha": 0.5, "depth": 3}  # 4.5, nearest 5
    assert result.best("score", mode="min").values == {"alpha": 2.0, "depth": 5}


def test_pipeline_sweep_random_draws_repeat_with_a_seed(
    pipeline: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "FLOWY_LOAD_PLUGINS", "flowy-executor-local,flowy-store-sqlite,flowy-materializers"
    )
    random = {"alpha": "log:0.01..1", "depth": "int:1..9"}
    first = pipeline.sweep(random=random, n=3, seed=11, parallel=2)
    again = pipeline.sweep(random=random, n=3, seed=11, parallel=1)
    other = pipeline.sweep(random=random, n=3, seed=12, parallel=1)
    assert first.ok and again.ok
    assert [r.values for r in first] == [r.values for r in again]
    assert [r.values for r in first] != [r.values for r in other]
    assert first.seed == 11
    assert first.sweep_id != again.sweep_id
    assert all(0.01 <= r.values["alpha"] <= 1 and 1 <= r.values["depth"] <= 9 for r in first)
    assert first.experiment == "api-sweep"


def test_fixed_params_and_experiment_reach_every_run(pipeline: Any, plugins: Any) -> None:
    spec = sweep_spec.from_mapping({"grid": {"alpha": [1, 2]}}, "test")
    result = _run(pipeline, plugins, spec, params={"size": 2}, experiment="trial", parallel=2)
    for run in result:
        assert "train" in run.result.steps, (run.status, run.error, run.result.steps)
        assert run.result.steps["train"].params["alpha"] == run.values["alpha"]
        assert run.result.steps["load"].params == {"size": 2}
        assert run.result["report"] == 2
    assert result.experiment == "trial"


def test_a_failure_or_a_dead_worker_fails_only_its_combination(pipeline: Any, plugins: Any) -> None:
    spec = sweep_spec.from_mapping({"grid": {"alpha": [1, -1, 13, 2]}}, "test")
    # max_workers=1: steps run in the sweep's worker process itself, which alpha=13 ends
    result = _run(pipeline, plugins, spec, parallel=2, executor_options={"max_workers": 1})
    status = {r.values["alpha"]: r.status for r in result}
    assert status == {1.0: "completed", -1.0: "failed", 13.0: "failed", 2.0: "completed"}
    died = next(r for r in result if r.values["alpha"] == 13)
    assert "worker process died (exit code 3)" in (died.error or "")
    assert not result.ok
    assert [r.values["alpha"] for r in result.failed] == [-1.0, 13.0]


def test_bad_api_input_is_refused(pipeline: Any, plugins: Any) -> None:
    with pytest.raises(ParameterError, match="Unknown parameter"):
        pipeline.sweep(grid={"alhpa": [1]})
    with pytest.raises(ParameterError, match="non-empty list"):
        pipeline.sweep(grid={"alpha": []})
    with pytest.raises(ParameterError, match="must be int"):
        pipeline.sweep(grid={"depth": [1, "x"]})
    with pytest.raises(ParameterError, match="need a number of draws"):
        pipeline.sweep(random={"alpha": "0..1"})
    with pytest.raises(ParameterError, match="parallel must be at least 1"):
        pipeline.sweep(grid={"alpha": [1]}, parallel=0)
    with pytest.raises(ParameterError, match="both a grid axis and a random range"):
        pipeline.sweep(grid={"alpha": [1]}, random={"alpha": "0..1"}, n=2)


FAILING_UPSTREAM = """
import time
from flowy import Pipeline, step

@step
def load() -> list:
    raise RuntimeError("no data today")

@step
def train(load: list, alpha: float = 0.1) -> float:
    return alpha

@step
def slow_side(alpha: float = 0.1) -> float:
    time.sleep(1.5)
    return alpha

pipeline = Pipeline("failing-upstream", [load, train, slow_side])
"""


def test_a_failed_shared_step_lets_the_others_start(
    project: Any, write_module: Any, plugins: Any
) -> None:
    """The first run's shared step fails: the others start without waiting for its end."""
    pipeline = write_module(FAILING_UPSTREAM).pipeline
    spec = sweep_spec.from_mapping({"grid": {"alpha": [1, 2]}}, "test")
    result = _run(pipeline, plugins, spec, parallel=2)
    assert [r.status for r in result] == ["failed", "failed"]
    first, second = (r.result for r in result)
    assert "load" in first.steps and "load" in second.steps, [
        (r.status, r.error, r.result.steps) for r in result
    ]
    assert first.steps["load"].status == "failed" and second.steps["load"].status == "failed"
    # the second run began while the first was still in its slow side branch
    assert second.started_at < first.steps["slow_side"].finished_at


def test_spec_text_forms() -> None:
    spec = sweep_spec.from_cli(
        ["xs=[[1, 2], [3]]", "kind=choice:rf,gbm", "lr=log:1e-3..1e-1"], samples=3, seed=5
    )
    assert spec.grid == {"xs": [[1, 2], [3]]}
    assert spec.random["kind"].choices == ("rf", "gbm")
    combos = spec.combinations()
    assert len(combos) == 6 and spec.size() == 6
    assert [c["xs"] for c in combos] == [[1, 2]] * 3 + [[3]] * 3  # grid order, draws within
    assert all(c["kind"] in ("rf", "gbm") and 1e-3 <= c["lr"] <= 1e-1 for c in combos)
    assert (
        combos
        == sweep_spec.from_cli(
            ["xs=[[1, 2], [3]]", "kind=choice:rf,gbm", "lr=log:1e-3..1e-1"], samples=3, seed=5
        ).combinations()
    )
    drawn = sweep_spec.from_cli(["lr=0..1"], samples=2)
    assert drawn.seed is not None  # chosen, so it can be printed and reused
