"""Entry-point module: registers the ``local`` executor by dotted path only."""

from __future__ import annotations

from typing import Any

from flowy import hookimpl


@hookimpl
def flowy_register_executors(register: Any) -> None:
    register(
        "local",
        "flowy_executor_local.executor:LocalExecutor",
        description="steps in dependency order in this process; timeouts in a child process",
    )
