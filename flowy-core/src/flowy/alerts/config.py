"""The project's alert configuration as the engine reads it: no pydantic on the hot path.

Rules are validated by the pydantic models of :mod:`flowy.alerts.rules`, but
building those models costs tens of milliseconds in every fresh ``flowy run``
process, more than the whole 20 ms budget of evaluating 50 rules. So the
validated result is kept beside the file, ``.flowy/.alerts-validated.json``,
under the SHA-256 of the config file's bytes: a run whose config is unchanged
reads that JSON (well under a millisecond); any edit, by hand or by
``flowy alert add``, changes the digest and the file is validated again. A
cache that cannot be written (a read-only project) only costs the validation.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from flowy.alerts.settings import AlertConfig, NamedRule
from flowy.kernel.config import MAX_TOML_BYTES, config_path

__all__ = ["AlertConfig", "NamedRule", "load_alert_config"]

CACHE_NAME = ".alerts-validated.json"
#: Bumped when the validated form changes, so an older cache is not trusted.
CACHE_VERSION = 1


def _read(path: Path) -> bytes | None:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError:
        return b"\0"  # let the full reader say what is wrong with it
    return data if len(data) <= MAX_TOML_BYTES else b"\0"


def load_alert_config(project: Path | None = None) -> AlertConfig:
    """The project's rules, notifiers and ui_url, validated (from the cache when unchanged)."""
    path = config_path("project", project)
    raw = _read(path)
    if raw is None or (b"alerts" not in raw and b"notifiers" not in raw and b"ui_url" not in raw):
        return AlertConfig(path)
    digest = hashlib.sha256(raw).hexdigest()
    cache = path.with_name(CACHE_NAME)
    try:
        cached = json.loads(cache.read_text())
        if cached.get("digest") == digest and cached.get("version") == CACHE_VERSION:
            return AlertConfig.from_json(path, cached["config"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):  # a damaged cache
        pass
    from flowy.alerts.rules import validate
    from flowy.kernel.config import read_toml

    config = validate(read_toml(path), path)
    _write_cache(cache, {"digest": digest, "version": CACHE_VERSION, "config": config.to_json()})
    return config


def _write_cache(cache: Path, data: dict[str, Any]) -> None:
    tmp = cache.with_name(f"{cache.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(json.dumps(data, default=str))
        os.replace(tmp, cache)
    except OSError:
        tmp.unlink(missing_ok=True)
