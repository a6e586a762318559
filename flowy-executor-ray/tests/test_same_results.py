"""The same example pipeline on ``local``, ``dask`` and ``ray``: identical results and lineage.

The quickstart example, unchanged, runs once on each executor into one project.
Read back from the metadata store, each run must say the same: every step's
status, which artifact (by checksum) it consumed under which input name and
produced under which output name, the lineage edges between steps, and the
metrics. Where a step runs may not change what it computes or what is recorded.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
from flowy.kernel.plugins import create_plugin_manager
from flowy.run.engine import run_pipeline
from flowy.stacks.resolution import resolve_stack
from flowy.testing._executor_support import load_path_module

EXAMPLE = Path(__file__).parents[2] / "examples" / "quickstart" / "pipeline.py"

pytestmark = pytest.mark.slow


def _all_plugins() -> Any:
    names = [
        ("flowy-executor-ray", "flowy_executor_ray.plugin"),
        ("flowy-executor-dask", "flowy_executor_dask.plugin"),
        ("flowy-executor-local", "flowy_executor_local.plugin"),
        ("flowy-store-sqlite", "flowy_store_sqlite.plugin"),
        ("flowy-materializers", "flowy_materializers.plugin"),
    ]
    return create_plugin_manager(
        entrypoints=False, plugins=[(n, importlib.import_module(m)) for n, m in names]
    )


def _recorded(project: Path, plugins: Any, run_id: str) -> dict[str, Any]:
    """What the store says of a run: steps, edges (by checksum) and metrics."""
    stack = resolve_stack("local", plugins, project)
    store = stack.metadata_store
    try:
        step_runs = store.get_step_runs(run_id)

        def checksum(artifact_id: str) -> str:
            return str(store.get_artifact(artifact_id).checksum)

        produced_by = {aid: r.step for r in step_runs for aid in r.outputs.values()}
        steps = {
            r.step: (
                r.status,
                {k: checksum(v) for k, v in r.inputs.items()},
                {k: checksum(v) for k, v in r.outputs.items()},
            )
            for r in step_runs
        }
        edges = sorted(
            (produced_by[aid], r.step, name, checksum(aid))
            for r in step_runs
            for name, aid in r.inputs.items()
        )
        metrics = sorted((s, m.name, m.value) for s, m in store.get_metrics(run_id))
        return {"steps": steps, "edges": edges, "metrics": metrics}
    finally:
        stack.close()


def test_the_example_gives_identical_results_and_lineage_on_local_dask_and_ray(
    project: Path, ray_cluster: str, tmp_path: Path
) -> None:
    plugins = _all_plugins()
    module = load_path_module(tmp_path, "quickstart_on_three", EXAMPLE.read_text())
    runs = {
        "local": ("local", {"max_workers": 2}),
        "dask": ("dask", {"n_workers": 2}),
        "ray": ("ray", {"address": ray_cluster}),
    }
    seen: dict[str, Any] = {}
    for label, (stack, options) in runs.items():
        result = run_pipeline(
            module.pipeline,
            stack=stack,
            plugins=plugins,
            project=project,
            executor_options=options,
            no_cache=True,
        )
        assert result.status == "completed", (label, result.steps)
        seen[label] = (result["evaluate"], _recorded(project, plugins, result.run_id))
    local = seen["local"]
    assert local[0]["r2"] > 0.9
    # make_data -> split (features, target), split -> fit (train_x, train_y),
    # split -> evaluate (test_x, test_y), fit -> evaluate (fit)
    assert len(local[1]["edges"]) == 7
    for label, got in seen.items():
        assert got == local, f"{label} differs from local"
