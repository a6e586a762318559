"""Entry-point module: registers the ``ray`` executor and the ``ray`` stack by name only.

Imports only ``flowy``: Ray is imported when a stack that uses the executor is
resolved and bound to a run, so discovering plugins (and ``flowy --help``) stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowy import hookimpl

if TYPE_CHECKING:
    from flowy.kernel.registry import Register, RegisterStack


@hookimpl
def flowy_register_executors(register: Register) -> None:
    register(
        "ray",
        "flowy_executor_ray.executor:RayExecutor",
        description="steps as Ray tasks (a local Ray instance unless `address` is set)",
    )


@hookimpl
def flowy_register_stacks(register: RegisterStack) -> None:
    register(
        "ray",
        {
            "executor": {"type": "ray"},
            "metadata_store": {"type": "sqlite", "url": "sqlite:///{project}/.flowy/metadata.db"},
            "artifact_store": {"type": "local", "path": "{project}/.flowy/artifacts"},
        },
        description=(
            "Steps on a local Ray instance started for the run; metadata and artifacts in the "
            "project's .flowy/ (use a shared artifact store such as s3 for a remote cluster)"
        ),
    )
