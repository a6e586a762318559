"""Stack options of the ``local`` executor (a pydantic model, imported only to validate).

:class:`~flowy_executor_local.executor.LocalExecutor` names it with
:class:`~flowy.kernel.component.LazyOptions`: a run whose stack options were
validated before (:mod:`flowy.stacks.options_cache`) imports no pydantic.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from flowy_executor_local.executor import StartMethod


class LocalOptions(BaseModel):
    """Options of the ``local`` executor."""

    model_config = ConfigDict(extra="forbid")
    max_workers: int | None = Field(
        None,
        ge=1,
        description="worker processes; 1 = in this process; default: as many as the DAG's "
        "widest level can use, up to the CPU count (a chain runs in this process)",
    )
    start_method: StartMethod | None = Field(
        None,
        description="how workers start; default fork on Linux unless tensorflow/torch/jax "
        "is imported (then forkserver), spawn elsewhere",
    )
    resources: dict[str, float] = Field(
        default_factory=dict,
        description="totals of extra resources steps may ask for (cpu is max_workers)",
    )
    kill_grace: float = Field(
        0.0, ge=0, description="seconds between SIGTERM and SIGKILL on timeout (in-process mode)"
    )
