"""Every error as ``{"error": {"code": ..., "message": ...}}`` with the right status.

Flowy's own errors map to statuses by type (an unknown run or artifact is 404
naming the id); request validation is 400; anything unexpected is a 500 whose
message says only that, while the traceback goes to the server's log.
Messages pass through :func:`flowy.kernel.redact.mask_text`: a store URL in an
error never shows its password.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from flowy.kernel.errors import (
    ArtifactNotFoundError,
    ArtifactPathError,
    ChecksumMismatchError,
    FlowyError,
    ModelNotFoundError,
    RunNotFoundError,
)
from flowy.kernel.redact import mask_text
from pydantic import BaseModel
from starlette.exceptions import HTTPException

log = logging.getLogger("flowy_ui")

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    500: "internal",
}


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: ErrorDetail


#: Declared on every API route, so the OpenAPI schema names what errors look like.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": code.replace("_", " ")}
    for status, code in CODES.items()
    if status not in (405, 413)
}


def error_response(
    status: int,
    message: str,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"code": code or CODES.get(status, "error"), "message": mask_text(message)}}
    return JSONResponse(body, status_code=status, headers=headers)


def _status_of(exc: FlowyError) -> tuple[int, str]:
    if isinstance(exc, RunNotFoundError | ArtifactNotFoundError | ModelNotFoundError):
        return 404, "not_found"
    if type(exc).__name__ == "ExperimentNotFoundError":
        return 404, "not_found"
    if isinstance(exc, ArtifactPathError):
        return 403, "unsafe_path"
    if isinstance(exc, ChecksumMismatchError):
        return 409, "corrupted"
    return 400, "bad_request"


def install(app: FastAPI) -> None:
    """Register the handlers that turn every exception into the error body."""

    async def flowy_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, FlowyError)
        status, code = _status_of(exc)
        return error_response(status, str(exc), code)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return error_response(exc.status_code, message, headers=exc.headers)

    async def invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        parts = []
        for err in exc.errors()[:5]:
            where = ".".join(str(p) for p in err.get("loc", ()))
            parts.append(f"{where}: {err.get('msg', 'invalid')}")
        return error_response(400, "; ".join(parts) or "invalid request")

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, f"internal error ({type(exc).__name__}); see the server log")

    app.add_exception_handler(FlowyError, flowy_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(Exception, unexpected)
