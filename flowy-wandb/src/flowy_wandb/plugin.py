"""Entry-point module of flowy-wandb (group ``flowy``).

Imports only ``flowy``: wandb (half a second to import, and a service process
once a run starts) is loaded when a run on a stack whose ``tracker`` is
``wandb`` starts, never by ``flowy --help`` or plugin discovery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowy import hookimpl

if TYPE_CHECKING:
    from flowy.kernel.registry import Register


@hookimpl
def flowy_register_trackers(register: Register) -> None:
    register(
        "wandb",
        "flowy_wandb.tracker:WandbTracker",
        description="Mirror runs, parameters, metric series and artifact references "
        "into Weights & Biases.",
    )
