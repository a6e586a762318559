"""API tokens: created random, shown once, kept only as salted hashes.

A token reads ``flowy_<id>_<secret>``: the id (public, stored in clear) finds the
record, the secret is checked against its PBKDF2-SHA256 hash with
:func:`hmac.compare_digest`. An unknown id is refused without hashing anything.
The file (``FLOWY_HOME/ui/tokens.json``) is written atomically with mode 0600
under an exclusive lock, so two ``flowy ui token`` commands cannot lose a token.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
from flowy.kernel.errors import FlowyError

#: Roles from least to most; each may do what the ones before it may.
ROLES = ("viewer", "editor", "admin")
_ITERATIONS = 200_000
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
_TOKEN = re.compile(r"flowy_([A-Za-z0-9]{12})_([A-Za-z0-9_-]{20,128})")


class TokenError(FlowyError):
    """A token name, role or file that cannot be used."""


@attrs.define
class TokenRecord:
    """One token as stored: never the token itself."""

    name: str
    role: str
    token_id: str
    salt: str
    hash: str
    created_at: float
    iterations: int = _ITERATIONS
    expires_at: float | None = None
    """When the token stops working (None: until revoked)."""

    def expired(self, now: float | None = None) -> bool:
        return self.expires_at is not None and (now or time.time()) >= self.expires_at

    def public(self) -> dict[str, Any]:
        """What ``token list`` and the API show: name, role, id, creation and expiry times."""
        return {
            "name": self.name,
            "role": self.role,
            "token_id": self.token_id,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
        }


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_lifetime(text: str) -> float:
    """Seconds in ``text`` such as ``90d``, ``12h``, ``30m``, ``2w`` or ``3600`` (seconds)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", text.lower())
    seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"] if match else 0.0
    if not match or seconds <= 0 or seconds > 10 * 366 * 86400:
        raise TokenError(
            f"Lifetime {text!r}: give a positive number with a unit, s, m, h, d or w "
            "(for example 90d or 12h), at most 10 years."
        )
    return seconds


def role_allows(role: str, needed: str) -> bool:
    """Whether ``role`` may do what ``needed`` may (admin > editor > viewer)."""
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)


def _digest(secret: str, salt: str, iterations: int) -> str:
    raw = hashlib.pbkdf2_hmac("sha256", secret.encode(), bytes.fromhex(salt), iterations)
    return raw.hex()


class TokenStore:
    """The tokens file at ``path``: create, list, revoke, verify."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> list[TokenRecord]:
        """Every token record; none when the file does not exist."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        try:
            data = json.loads(text)
            return [TokenRecord(**row) for row in data["tokens"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise TokenError(
                f"The tokens file {self.path} is damaged ({type(exc).__name__}: {exc}). "
                "Move it away and create the tokens again with `flowy ui token create`."
            ) from exc

    def exists_any(self) -> bool:
        return bool(self.load())

    def create(
        self, name: str, role: str, lifetime: float | None = None
    ) -> tuple[TokenRecord, str]:
        """A new token for ``name`` with ``role``: its record and the token (shown once).

        With ``lifetime`` (seconds) the token stops working that long from now.
        """
        if not _NAME.fullmatch(name):
            raise TokenError(
                f"Token name {name!r}: use 1-64 letters, digits, '.', '_', '@' or '-', "
                "starting with a letter or digit."
            )
        if role not in ROLES:
            raise TokenError(f"Role {role!r}: choose one of {', '.join(ROLES)}.")
        token_id = "".join(secrets.choice("abcdefghijkmnopqrstuvwxyz23456789") for _ in range(12))
        secret = secrets.token_urlsafe(32)
        salt = secrets.token_hex(16)
        now = time.time()
        record = TokenRecord(
            name=name,
            role=role,
            token_id=token_id,
            salt=salt,
            hash=_digest(secret, salt, _ITERATIONS),
            created_at=now,
            expires_at=now + lifetime if lifetime is not None else None,
        )
        with self._locked():
            records = self.load()
            if any(r.name == name for r in records):
                raise TokenError(
                    f"A token named {name!r} exists. Revoke it first "
                    f"(`flowy ui token revoke {name}`) or choose another name."
                )
            self._write([*records, record])
        return record, f"flowy_{token_id}_{secret}"

    def revoke(self, name: str) -> TokenRecord:
        """Remove the token named ``name``; a TokenError naming the tokens that exist."""
        with self._locked():
            records = self.load()
            kept = [r for r in records if r.name != name]
            if len(kept) == len(records):
                names = ", ".join(r.name for r in records) or "none"
                raise TokenError(f"No token named {name!r}. Tokens: {names}.")
            self._write(kept)
        return next(r for r in records if r.name == name)

    def verify(self, token: str, records: list[TokenRecord] | None = None) -> TokenRecord | None:
        """The record of ``token`` if its secret matches, else None (expiry is the caller's)."""
        match = _TOKEN.fullmatch(token.strip())
        if match is None:
            return None
        token_id, secret = match.groups()
        for record in self.load() if records is None else records:
            if hmac.compare_digest(record.token_id, token_id):
                expected = _digest(secret, record.salt, record.iterations)
                return record if hmac.compare_digest(expected, record.hash) else None
        return None

    # -- the file ------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.path.with_name(self.path.name + ".lock"), os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _write(self, records: list[TokenRecord]) -> None:
        data = {"version": 1, "tokens": [attrs.asdict(r) for r in records]}
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(data, out, indent=2)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        os.chmod(self.path, 0o600)
