"""What every request passes through: host and origin checks, auth, read-only, headers.

- Security headers on every response: a Content-Security-Policy that allows no
  inline script and nothing from another origin, ``nosniff``, no referrer, no
  framing. CORS is off (no ``Access-Control-*`` header is ever sent).
- On a loopback address only loopback ``Host`` names are served: a page on
  another site that rebinds its DNS name to 127.0.0.1 gets 400.
- A write (any method but GET, HEAD, OPTIONS) with an ``Origin`` other than
  the server's own is refused (403): no cross-site request forgery, even on
  loopback without tokens. Tokens travel in the ``Authorization`` header, never
  in cookies, so a browser never attaches them to another site's request.
- ``/api/`` and ``/metrics`` requests need a valid bearer token when tokens are in use (401);
  ``--read-only`` refuses every write (403).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from fastapi import FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool

from flowy_ui.audit import AuditLog
from flowy_ui.auth import EXPIRED, Authenticator
from flowy_ui.errors import error_response, log
from flowy_ui.settings import LOOPBACK_NAMES, Settings, is_loopback

HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

Next = Callable[[Request], Awaitable[Response]]


def _host_name(host: str) -> str:
    """The name part of a ``Host`` header (``[::1]:8765`` -> ``::1``)."""
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def host_allowed(settings: Settings, host: str) -> bool:
    name = _host_name(host.strip()).lower()
    if settings.loopback:
        return name in LOOPBACK_NAMES or is_loopback(name)
    if settings.allowed_hosts is None:
        return True
    return name in {h.lower() for h in settings.allowed_hosts}


def same_origin(request: Request) -> bool:
    """Whether the request's ``Origin`` (if any) is this server as the browser reached it.

    Without ``Origin``, a browser's ``Sec-Fetch-Site`` still tells a cross-site request
    (a page on another origin, even another port of this host) from the UI's own;
    a client that sends neither (curl, scripts) is not a browser and cannot be forged.
    """
    origin = request.headers.get("origin")
    if origin is None:
        return request.headers.get("sec-fetch-site", "same-origin") in {"same-origin", "none"}
    try:
        parts = urlsplit(origin)
    except ValueError:
        return False
    return bool(parts.netloc) and parts.netloc.lower() == request.headers.get("host", "").lower()


def install(app: FastAPI, settings: Settings, auth: Authenticator, audit: AuditLog) -> None:
    """Add the middleware described in the module docstring."""

    @app.middleware("http")
    async def guard(request: Request, call_next: Next) -> Response:
        try:
            response = await _checked(request, call_next)
        except Exception as exc:  # noqa: BLE001 - a 500 gets the headers too
            log.exception("unexpected error on %s %s", request.method, request.url.path)
            response = error_response(500, f"internal error ({type(exc).__name__})")
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    async def _checked(request: Request, call_next: Next) -> Response:
        if not host_allowed(settings, request.headers.get("host", "")):
            return error_response(400, "This server does not answer to that Host name.", "bad_host")
        write = request.method not in SAFE_METHODS
        if write and not same_origin(request):
            return error_response(403, "Cross-origin writes are refused.", "cross_origin")
        if request.url.path.startswith("/api/") or request.url.path == "/metrics":
            header = request.headers.get("authorization")
            who = await run_in_threadpool(auth.authenticate, header)
            if who is EXPIRED:
                return error_response(
                    401,
                    "The token has expired. Ask an admin for a new one "
                    "(`flowy ui token create NAME --role viewer --expires-in 90d`).",
                    headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
                )
            if who is None:
                message = (
                    "A valid token is required: send `Authorization: Bearer <token>` "
                    "(`flowy ui token create NAME --role viewer` makes one)."
                    if not header
                    else "The token is not valid (wrong, or revoked)."
                )
                return error_response(401, message, headers={"WWW-Authenticate": "Bearer"})
            request.state.principal = who
            if write and settings.read_only:
                await run_in_threadpool(
                    audit.record, who.name, f"{request.method} {request.url.path}",
                    request.url.path, "refused", reason="read_only",
                )  # fmt: skip
                return error_response(
                    403, "This server runs with --read-only: writes are refused.", "read_only"
                )
        return await call_next(request)
