"""Entry-point module of flowy-ui (group ``flowy``).

Imports only ``flowy``: FastAPI and uvicorn are imported when ``flowy ui`` runs,
never by ``flowy --help``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowy import hookimpl

if TYPE_CHECKING:
    from flowy.kernel.registry import RegisterCommand


@hookimpl
def flowy_register_commands(register: RegisterCommand) -> None:
    register(
        "ui",
        "flowy_ui.cli:ui",
        help="Serve the web UI and HTTP API of a stack's runs; manage its access tokens.",
    )
