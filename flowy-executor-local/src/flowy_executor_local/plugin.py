"""Entry-point module: registers the ``local`` executor by dotted path only."""

from __future__ import annotations

from typing import Any

from flowy import hookimpl


@hookimpl
def flowy_register_executors(register: Any) -> None:
    register(
        "local",
        "flowy_executor_local.executor:LocalExecutor",
        description=(
            "ready steps in parallel worker processes (max_workers, default: CPU count), "
            "or one at a time in this process with max_workers=1"
        ),
    )
