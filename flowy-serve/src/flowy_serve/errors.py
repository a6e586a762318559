"""Errors of flowy-serve: a bad request (with its HTTP status) and a bad setup."""

from __future__ import annotations

from flowy.kernel.errors import FlowyError


class InputError(Exception):
    """A request the model cannot take; ``status`` is the HTTP answer (422 by default)."""

    def __init__(self, message: str, *, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


class ServeError(FlowyError):
    """A server that cannot start as asked (unsafe model, no predictor, missing token)."""
