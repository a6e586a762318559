"""The server's settings: where it listens, which stack it reads, who may do what.

User-facing configuration is pydantic (STYLE.md, 14), so a bad value is an error
naming the field.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

#: Host names that reach only this machine.
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server reachable from this machine only."""
    name = host.strip().strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a DNS name: it may resolve to anything


def ui_home() -> Path:
    """``FLOWY_HOME/ui``: the tokens file and the audit log live there."""
    from flowy.kernel.config import user_home

    return user_home() / "ui"


class Settings(BaseModel):
    """What ``flowy ui`` was asked to serve, and how."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    """The address to bind; anything but loopback requires tokens."""
    port: int = Field(default=8765, ge=0, le=65535)
    """The TCP port (0: any free port)."""
    stack: str | None = None
    """The stack whose stores are read (None: the project's active stack)."""
    project: Path | None = None
    """The project folder (None: found from the working directory, as the CLI does)."""
    read_only: bool = False
    """Refuse every write (promote, rollback) with 403, whatever the token's role."""
    tokens_file: Path | None = None
    """Where the hashed tokens are kept (None: ``FLOWY_HOME/ui/tokens.json``)."""
    audit_file: Path | None = None
    """Where writes are recorded, one JSON line each (None: ``FLOWY_HOME/ui/audit.jsonl``)."""
    require_auth: bool = False
    """Require a token on every API request even when no token exists yet."""
    allowed_hosts: list[str] | None = None
    """``Host`` header values accepted when bound to a public address (None: any). On
    loopback only loopback names are accepted, which stops DNS-rebinding pages."""
    static_dir: Path | None = None
    """Serve the frontend from this folder instead of the build the package ships
    (frontend development: ``vite build --outDir DIR``)."""
    preview_max_bytes: int = Field(default=256 << 20, ge=0)
    """Artifact previews: larger artifacts are not loaded (kind ``too_large``)."""
    preview_timeout: float = Field(default=10.0, ge=0, le=600)
    """Artifact previews: seconds before giving up (kind ``timed_out``)."""
    preview_concurrency: int = Field(default=4, ge=1, le=64)
    """Artifact previews: how many may load at once (timed-out ones included)."""

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    @property
    def tokens_path(self) -> Path:
        return self.tokens_file or ui_home() / "tokens.json"

    @property
    def audit_path(self) -> Path:
        return self.audit_file or ui_home() / "audit.jsonl"

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"
