"""Entry-point module: registers the ``dask`` executor and the ``dask`` stack by name only.

Imports only ``flowy``: Dask and distributed are imported when a stack that
uses the executor is resolved, so ``flowy --help`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowy import hookimpl

if TYPE_CHECKING:
    from flowy.kernel.registry import Register, RegisterStack


@hookimpl
def flowy_register_executors(register: Register) -> None:
    register(
        "dask",
        "flowy_executor_dask.executor:DaskExecutor",
        description="steps on a Dask distributed cluster (a LocalCluster unless `address` is set)",
    )


@hookimpl
def flowy_register_stacks(register: RegisterStack) -> None:
    register(
        "dask",
        {
            "executor": {"type": "dask"},
            "metadata_store": {"type": "sqlite", "url": "sqlite:///{project}/.flowy/metadata.db"},
            "artifact_store": {"type": "local", "path": "{project}/.flowy/artifacts"},
        },
        description=(
            "Steps on a Dask LocalCluster started for the run; metadata and artifacts in the "
            "project's .flowy/ (use a shared artifact store such as s3 for a remote scheduler)"
        ),
    )
