"""The engine calls ``flowy_step_recorded`` as any plugin would see it (issue 19).

Flowy's model registry is one implementation of the hook (flowy.tracking.plugin);
these tests put a third-party-style plugin beside it on the real local stack
(SQLite metadata, local artifacts) and check what the engine promises: one call
per completed or cached step, none for a skipped or failed one, each after the
step's record is committed (for cached steps: after their batch is written, so
the engine no longer writes a batch per step that registers a model), and an
exception that fails the run instead of becoming a warning.
"""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from flowy import Pipeline, hookimpl, step
from flowy.kernel.contracts import MetadataStore
from flowy.kernel.plugins import FlowyPlugins, create_plugin_manager
from flowy.kernel.records import RunRecord, StepRunRecord
from flowy.run.engine import run_pipeline
from flowy.tracking.client import Client

FIRST_PARTY = [
    ("flowy-executor-local", "flowy_executor_local.plugin"),
    ("flowy-store-sqlite", "flowy_store_sqlite.plugin"),
    ("flowy-materializers", "flowy_materializers.plugin"),
]


class Witness:
    """A plugin that notes each call and what the store held for the step at that moment."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.calls: list[tuple[str, str, str]] = []
        self.fail_on = fail_on

    @hookimpl
    def flowy_step_recorded(
        self, run: RunRecord, step: Any, record: StepRunRecord, store: MetadataStore
    ) -> None:
        committed = {r.step: r.status for r in store.get_step_runs(run.run_id)}
        self.calls.append((step.name, record.status, committed.get(step.name, "not written")))
        if step.name == self.fail_on:
            raise RuntimeError(f"cannot note {step.name}")


def _plugins(witness: Witness) -> FlowyPlugins:
    first_party = [(name, importlib.import_module(module)) for name, module in FIRST_PARTY]
    return create_plugin_manager(
        entrypoints=False, plugins=[*first_party, ("flowy-witness", witness)]
    )


def _pipeline() -> Pipeline:
    @step
    def data() -> list[int]:
        return [1, 2, 3]

    @step(register_model="summer")
    def fit(data: list[int]) -> int:
        return sum(data)

    @step
    def report(fit: int) -> str:
        return f"sum {fit}"

    @step(when=lambda context: False)
    def never(fit: int) -> int:
        return fit

    @step(cache=False)
    def broken(fit: int) -> int:
        raise ValueError("no")

    return Pipeline("witnessed", [data, fit, report, never, broken])


def test_called_once_per_completed_and_cached_step_after_its_record_is_committed(
    project, monkeypatch: pytest.MonkeyPatch
) -> None:
    witness = Witness()
    plugins = _plugins(witness)
    pipeline = _pipeline()

    first = run_pipeline(pipeline, plugins=plugins)
    assert first.status == "failed"  # `broken` fails; `never` is skipped: neither is heard
    assert witness.calls == [
        ("data", "completed", "completed"),
        ("fit", "completed", "completed"),
        ("report", "completed", "completed"),
    ]

    store_cls = plugins.registry.get("metadata_store", "sqlite").load()
    batches: list[list[str]] = []
    record_steps = store_cls.record_steps

    def spy(self: MetadataStore, step_runs: list[StepRunRecord]) -> None:
        batches.append([r.step for r in step_runs])
        record_steps(self, step_runs)

    monkeypatch.setattr(store_cls, "record_steps", spy)
    witness.calls.clear()
    second = run_pipeline(pipeline, plugins=plugins)
    # The cached steps in one batch, although `fit` registers a model: the hook comes after.
    assert batches == [["data", "fit", "report"]]
    assert witness.calls == [
        ("data", "cached", "cached"),
        ("fit", "cached", "cached"),
        ("report", "cached", "cached"),
    ]
    with Client("local", project, plugins=plugins) as client:
        (version,) = client.models.versions("summer")  # the cached re-use adds no version
        assert version.run_id == first.run_id
        statuses = [s.status for s in client.steps(second.run_id)]
        assert statuses == ["cached", "cached", "cached", "skipped", "failed"]


def test_an_implementation_that_raises_fails_the_run(project) -> None:
    witness = Witness(fail_on="data")
    plugins = _plugins(witness)
    with pytest.raises(RuntimeError, match="cannot note data"):
        run_pipeline(_pipeline(), plugins=plugins)
    assert [c[0] for c in witness.calls] == ["data"]  # the run stopped there
    with Client("local", project, plugins=plugins) as client:
        (run,) = client.runs()
        assert run.status == "failed"
        assert [(s.step, s.status) for s in client.steps(run.run_id)] == [("data", "completed")]
