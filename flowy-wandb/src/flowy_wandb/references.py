"""A step's outputs and logged files as one W&B artifact of *references*, never copies.

Flowy already keeps the bytes, content-checked, in its artifact store; W&B
gets where they are and what they must hash to. Each entry is added with
W&B's public ``Artifact.add_reference(uri, checksum=False)`` (so W&B neither
reads nor downloads the artifact: no second copy, no credentials needed on
the way) and then carries Flowy's facts in the entry's ``extra``:
``flowy_checksum`` (``sha256:...``, the checksum every Flowy read checks),
``materializer`` and ``type``. The entry's size is Flowy's recorded size.

Each run's artifact of a step is a new version of ``<pipeline>-<step>``
(type ``flowy-step``), aliased ``run-<flowy run id>``; its metadata says
which run and step wrote it, the step's code hash and upstream steps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowy_wandb.mapping import artifact_name, reference_uri, suffix

if TYPE_CHECKING:
    from flowy.kernel.records import ArtifactRef, RunRecord, StepResult, StepTask

#: The W&B artifact type of a step's outputs.
ARTIFACT_TYPE = "flowy-step"


def step_artifact(
    run: RunRecord, task: StepTask, result: StepResult, upstream: list[str]
) -> Any | None:
    """The W&B artifact of ``result``'s outputs and logged files (None when it has neither)."""
    refs = [("outputs", ref) for ref in result.outputs.values()]
    refs += [("files", ref) for ref in result.artifacts_logged]
    if not refs:
        return None
    import wandb

    artifact = wandb.Artifact(
        artifact_name(run.pipeline, task.step),
        type=ARTIFACT_TYPE,
        description=f"Outputs of step {task.step!r} of Flowy pipeline {run.pipeline!r}.",
        metadata={
            "flowy_run_id": run.run_id,
            "pipeline": run.pipeline,
            "step": task.step,
            "status": result.status,
            "code_hash": task.code_hash,
            "upstream": upstream,
            "artifacts": {f"{folder}/{ref.name}": _facts(ref) for folder, ref in refs},
        },
    )
    for folder, ref in refs:
        name = f"{folder}/{ref.name}" + (suffix(ref.uri) if folder == "outputs" else "")
        for entry in artifact.add_reference(reference_uri(ref.uri), name=name, checksum=False):
            entry.size = ref.size
            entry.extra.update(
                flowy_checksum=ref.checksum,
                materializer=ref.materializer,
                type=ref.type_name,
            )
    return artifact


def _facts(ref: ArtifactRef) -> dict[str, Any]:
    return {
        "uri": ref.uri,
        "checksum": ref.checksum,
        "size": ref.size,
        "materializer": ref.materializer,
        "type": ref.type_name,
        "artifact_id": ref.artifact_id,
    }
