"""Who is calling: the bearer token checked against the tokens file, and its role.

The tokens file is re-read when it changes (its mtime, size and inode), so a token
revoked with ``flowy ui token revoke`` is refused by a running server at once.
A verified token is remembered (by its SHA-256) until the file changes, so the
slow salted hash is computed once per token, not once per request.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from typing import Annotated, Any

import attrs
from fastapi import Depends, HTTPException, Request

from flowy_ui.settings import Settings
from flowy_ui.tokens import ROLES, TokenRecord, TokenStore, role_allows


@attrs.frozen
class Principal:
    """The caller: a token's name and role (``local`` admin when no token is required)."""

    name: str
    role: str


#: The caller when auth is off: loopback, no token created.
LOCAL = Principal(name="local", role="admin")
#: What :meth:`Authenticator.authenticate` returns for a token past its expiry: the
#: middleware refuses it with 401 saying so (it has no role).
EXPIRED = Principal(name="expired", role="expired")


class Authenticator:
    """Checks ``Authorization: Bearer`` headers for one server."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = TokenStore(settings.tokens_path)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._records: list[TokenRecord] = []
        self._verified: dict[str, tuple[Principal, float | None]] = {}

    def _refresh(self) -> list[TokenRecord]:
        try:
            st = os.stat(self.store.path)
            stamp: tuple[int, int, int] | None = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            stamp = None
        with self._lock:
            if stamp != self._stamp or stamp is None:
                self._records = self.store.load() if stamp is not None else []
                self._verified = {}
                self._stamp = stamp
            return self._records

    def required(self) -> bool:
        """Auth is on when any token exists, when bound off loopback, or when asked for."""
        return bool(self._refresh()) or not self.settings.loopback or self.settings.require_auth

    def authenticate(self, header: str | None) -> Principal | None:
        """The principal for an ``Authorization`` header; None when it is not a valid token.

        Without a required token, every caller is :data:`LOCAL`.
        """
        records = self._refresh()
        if not (records or not self.settings.loopback or self.settings.require_auth):
            return LOCAL
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        key = hashlib.sha256(token.strip().encode()).hexdigest()
        with self._lock:
            known = self._verified.get(key)
        if known is None:
            record = self.store.verify(token, records)
            if record is None or record.role not in ROLES:
                return None
            known = (Principal(name=record.name, role=record.role), record.expires_at)
            with self._lock:
                if self._records is records:  # the file did not change meanwhile
                    self._verified[key] = known
        principal, expires_at = known
        if expires_at is not None and time.time() >= expires_at:
            return EXPIRED
        return principal


def principal(request: Request) -> Principal:
    """The caller, as the auth middleware found it."""
    found: Principal | None = getattr(request.state, "principal", None)
    return found or LOCAL


def require(role: str) -> Any:
    """A dependency refusing callers whose role is below ``role`` (403)."""

    def check(request: Request) -> Principal:
        who = principal(request)
        if not role_allows(who.role, role):
            request.app.state.audit.record(
                who.name, f"{request.method} {request.url.path}", request.url.path, "refused",
                reason=f"role {who.role} below {role}",
            )  # fmt: skip
            raise HTTPException(
                403,
                f"Token {who.name!r} has the {who.role} role; this needs {role} "
                f"(create one with `flowy ui token create NAME --role {role}`).",
            )
        return who

    return Depends(check)


Caller = Annotated[Principal, Depends(principal)]
