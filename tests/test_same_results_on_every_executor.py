"""The same example pipeline, unchanged, on ``local`` (sequential and parallel) and ``dask``.

Results, lineage (which artifact each step consumed and produced, by checksum)
and metrics must be identical: where a step runs is not allowed to change what
it computes or what the metadata store says about it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flowy.run.engine import run_pipeline
from flowy.stacks.resolution import resolve_stack
from flowy.testing._executor_support import load_path_module

EXAMPLE = Path(__file__).parents[1] / "examples" / "quickstart" / "pipeline.py"


def _lineage(project: Path, plugins: Any, run_id: str) -> dict[str, Any]:
    """Per step: status, and input/output names mapped to artifact checksums; plus metrics."""
    stack = resolve_stack("local", plugins, project)
    store = stack.metadata_store
    try:

        def checksum(artifact_id: str) -> str:
            return str(store.get_artifact(artifact_id).checksum)

        steps = {
            r.step: (
                r.status,
                {k: checksum(v) for k, v in r.inputs.items()},
                {k: checksum(v) for k, v in r.outputs.items()},
            )
            for r in store.get_step_runs(run_id)
        }
        metrics = sorted((s, m.name, m.value) for s, m in store.get_metrics(run_id))
        return {"steps": steps, "metrics": metrics}
    finally:
        stack.close()


@pytest.mark.slow
def test_example_pipeline_gives_identical_results_and_lineage(project, all_plugins, tmp_path):
    import numpy  # noqa: F401 - the example pipeline passes arrays

    module = load_path_module(tmp_path, "quickstart_everywhere", EXAMPLE.read_text())
    runs = {
        "local-sequential": ("local", {"max_workers": 1}),
        "local-parallel": ("local", {"max_workers": 2}),
        "dask": ("dask", {"n_workers": 2}),
    }
    seen: dict[str, Any] = {}
    for label, (stack, options) in runs.items():
        result = run_pipeline(
            module.pipeline,
            stack=stack,
            plugins=all_plugins,
            project=project,
            executor_options=options,
            no_cache=True,
        )
        assert result.status == "completed", label
        seen[label] = (result["evaluate"], _lineage(project, all_plugins, result.run_id))
    first = seen["local-sequential"]
    assert first[0]["r2"] > 0.9
    for label, got in seen.items():
        assert got == first, f"{label} differs from local-sequential"
