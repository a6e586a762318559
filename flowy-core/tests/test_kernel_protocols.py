"""The kernel's view of the run layer: protocols LiveStep, WorkerRuntime, MaterializerResolver.

``flowy.kernel.contracts`` names what an executor and a cache strategy receive as
protocols, so neither a backend nor the kernel imports ``flowy.run``. Two checks keep the
run layer's objects true to them: at run time, an executor and a cache strategy that know
only the kernel's types run a real pipeline, reading every member the protocols promise;
and under ``mypy --strict`` (the types session's settings), the run layer's ``Step``,
``WorkerRuntime`` and ``MaterializerRegistry`` pass where the protocols are expected,
while an object lacking a member is refused.
"""

from __future__ import annotations

import textwrap
from concurrent.futures import Future
from pathlib import Path
from typing import Any, ClassVar

import pytest
from flowy import Pipeline, hookimpl, step
from flowy.kernel.contracts import CacheStrategy, Executor, LiveStep, WorkerRuntime
from flowy.kernel.records import StepResult, StepTask
from flowy.run import execute_attempt, run_with_retries
from flowy.stacks.definitions import StackDefinition, save_stack

REPO = Path(__file__).resolve().parents[2]


class KernelOnlyExecutor(Executor):
    """Runs each step in this process, knowing the step and runtime only as kernel protocols."""

    seen: ClassVar[list[tuple[str, tuple[str, ...], str, dict[str, str]]]] = []

    def submit(self, task: StepTask, step: LiveStep) -> Future[StepResult]:
        runtime: WorkerRuntime | None = self.runtime
        assert runtime is not None, "bind() hands the runtime over before the first submit"
        self.seen.append(
            (step.name, tuple(step.outputs), step.ref.qualname, dict(step.register_model))
        )
        future: Future[StepResult] = Future()
        future.set_result(
            run_with_retries(task, lambda t: execute_attempt(t, step.fn, runtime, step.retry_on))
        )
        return future


class StepShape(CacheStrategy):
    """A key part from what LiveStep shows of a step: its name, outputs and function."""

    name = "step_shape"

    def key_part(self, step: LiveStep, task: StepTask) -> str:
        return f"{step.name}|{','.join(step.outputs)}|{step.ref.module}.{step.fn.__qualname__}"


class KernelOnlyPlugin:
    @hookimpl
    def flowy_register_executors(self, register: Any) -> None:
        register("kernel-only", f"{__name__}:KernelOnlyExecutor")

    @hookimpl
    def flowy_register_cache_strategies(self, register: Any) -> None:
        register("step_shape", f"{__name__}:StepShape")


@step(cache="step_shape")
def numbers() -> list[int]:
    return [1, 2, 3]


@step(cache="step_shape", outputs=["total", "count"])
def summed(numbers: list[int]) -> tuple[int, int]:
    return sum(numbers), len(numbers)


def test_an_executor_and_a_cache_strategy_written_against_the_kernel_run_a_pipeline(
    flowy_project: Path, flowy_run: Any, flowy_plugins: Any
) -> None:
    plugins = flowy_plugins(("flowy-kernel-only", KernelOnlyPlugin()), entrypoints=True)
    components = {
        "executor": {"type": "kernel-only"},
        "metadata_store": {"type": "sqlite", "url": f"sqlite:///{flowy_project}/meta.db"},
        "artifact_store": {"type": "local", "path": str(flowy_project / "artifacts")},
    }
    save_stack(StackDefinition("kernel-only", components, "test"), "project", flowy_project)
    pipeline = Pipeline("protocols", [numbers, summed])
    KernelOnlyExecutor.seen.clear()

    first = flowy_run(pipeline, stack="kernel-only", plugins=plugins)
    assert first.status == "completed"
    assert (first["total"], first["count"]) == (6, 3)
    assert KernelOnlyExecutor.seen == [
        ("numbers", ("numbers",), "numbers", {}),
        ("summed", ("total", "count"), "summed", {}),
    ]

    # The cache strategy's key, built from LiveStep members, finds the first run's outputs.
    second = flowy_run(pipeline, stack="kernel-only", plugins=plugins)
    assert {name: s.status for name, s in second.steps.items()} == {
        "numbers": "cached",
        "summed": "cached",
    }
    assert (second["total"], second["count"]) == (6, 3)
    assert len(KernelOnlyExecutor.seen) == 2, "a cached step is not submitted"


#: Type-checked with mypy --strict: the run layer's objects where the protocols are expected.
SATISFIES = """
from __future__ import annotations

from flowy.artifacts.resolution import MaterializerRegistry
from flowy.kernel.contracts import ArtifactStore, LiveStep, MaterializerResolver, WorkerRuntime
from flowy.kernel.registry import Registry
from flowy.run.steps import Step
from flowy.run.worker import WorkerRuntime as RunRuntime


def handed_to_executors(step: Step, store: ArtifactStore, registry: Registry) -> None:
    live: LiveStep = step
    resolver: MaterializerResolver = MaterializerRegistry(registry)
    runtime: WorkerRuntime = RunRuntime(store, MaterializerRegistry(registry))
    print(live, resolver, runtime)
"""

#: The same, with an object that lacks members of each protocol: mypy must refuse all three.
LACKS = """
from __future__ import annotations

from flowy.kernel.contracts import LiveStep, MaterializerResolver, WorkerRuntime


class HalfAStep:
    name = "half"


class NoAssets:
    def resolve(self, obj: object, *, allow_pickle: bool = False) -> None: ...


class NoStore:  # lacks only artifact_store (mypy names up to two missing members)
    materializers = None

    def report_retry(self, task: object, result: object, delay: float) -> None: ...
    def report_output(self, task: object, text: str) -> None: ...


live: LiveStep = HalfAStep()
resolver: MaterializerResolver = NoAssets()
runtime: WorkerRuntime = NoStore()
"""


@pytest.fixture(scope="module")
def mypy_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for this module's mypy runs (the second reads flowy's types from it)."""
    return tmp_path_factory.mktemp("mypy-cache")


def _mypy(folder: Path, cache: Path, name: str, source: str) -> tuple[int, str]:
    from mypy import api

    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    config = str(REPO / "pyproject.toml")
    out, err, status = api.run(["--config-file", config, "--cache-dir", str(cache), str(path)])
    return status, out + err


def test_the_run_layer_satisfies_the_kernel_protocols_under_mypy(
    tmp_path: Path, mypy_cache: Path
) -> None:
    status, output = _mypy(tmp_path, mypy_cache, "satisfies", SATISFIES)
    assert status == 0, output


def test_mypy_refuses_an_object_missing_a_protocol_member(tmp_path: Path, mypy_cache: Path) -> None:
    status, output = _mypy(tmp_path, mypy_cache, "lacks", LACKS)
    assert status == 1, output
    refused = [line for line in output.splitlines() if "error: Incompatible types" in line]
    assert [line.rsplit("variable has type ", 1)[1] for line in refused] == [
        '"LiveStep")  [assignment]',
        '"MaterializerResolver")  [assignment]',
        '"WorkerRuntime")  [assignment]',
    ], output
    assert "asset_class" in output and "artifact_store" in output, output  # the missing members


@pytest.mark.parametrize("module", ["flowy.kernel.contracts", "flowy.kernel.hookspecs"])
def test_the_contracts_import_without_the_layers_above(module: str) -> None:
    """Importing the contracts (and the hook specs) loads no module of run, artifacts,
    stacks or tracking: a plugin's contract is the kernel alone."""
    import subprocess
    import sys

    code = (
        f"import sys, {module}; "
        "print(sorted(m for m in sys.modules if m.split('.')[:2] in "
        "(['flowy', 'run'], ['flowy', 'artifacts'], ['flowy', 'stacks'], ['flowy', 'tracking'])))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout
