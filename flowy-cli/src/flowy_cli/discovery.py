"""Plugin command groups: listed cheaply for ``--help``, imported only when invoked.

Knowing which commands plugins add means calling their
``flowy_register_commands`` hooks, which costs a plugin manager (pluggy,
attrs and every plugin's entry-point module: about 60 ms). ``flowy --help``
cannot afford that on every call, so the list is cached in
``FLOWY_HOME/cache/cli-commands.json`` under a fingerprint of the installed
``flowy`` entry points (names, targets, distributions, versions) and the
plugin-selection environment variables. Any install, uninstall or upgrade
changes the fingerprint and rebuilds the list. Invoking a plugin command
never uses the cache: it builds a real plugin manager and imports the target.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import click

CACHE_NAME = "cli-commands.json"
_ENV = ("FLOWY_LOAD_PLUGINS", "FLOWY_DISABLE_PLUGINS")


def _fingerprint() -> str:
    # flowy.kernel.entrypoints caches the group itself
    # (importlib.metadata is ~30 ms to import and scan).
    from flowy.kernel.entrypoints import entry_points

    parts = sorted(
        f"{ep.name}={ep.value}@{ep.distribution}=={ep.version}:{ep.problem}"
        for ep in entry_points()
    )
    parts.extend(f"{k}={os.environ.get(k)}" for k in _ENV)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _cache_path() -> Path:
    from flowy.kernel.config import user_home

    return user_home() / "cache" / CACHE_NAME


def _discover() -> dict[str, tuple[str, str]]:
    from flowy.kernel.plugins import create_plugin_manager

    registry = create_plugin_manager().registry
    return {name: (offer.target, offer.help) for name, offer in registry.commands.items()}


def plugin_commands() -> dict[str, tuple[str, str]]:
    """Plugin command name -> (target, help), from the cache when it is current."""
    fingerprint = _fingerprint()
    path = _cache_path()
    try:
        data = json.loads(path.read_text())
        if data.get("fingerprint") == fingerprint:
            return {k: (v[0], v[1]) for k, v in data["commands"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    commands = _discover()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(json.dumps({"fingerprint": fingerprint, "commands": commands}))
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only home only costs speed
    return commands


def load_plugin_command(name: str) -> click.Command | None:
    """Import the click command a plugin registered as ``name`` (None when there is none)."""
    from flowy.kernel.errors import PluginLoadError
    from flowy.kernel.plugins import create_plugin_manager
    from flowy.kernel.registry import import_target

    offer = create_plugin_manager().registry.commands.get(name)
    if offer is None:
        return None
    try:
        command: click.Command = import_target(offer.target)
    except Exception as exc:
        raise PluginLoadError(
            f"The command {name!r} from {offer.distribution} could not be imported "
            f"({offer.target}): {type(exc).__name__}: {exc}. Reinstall or fix "
            f"{offer.distribution}, or disable it with FLOWY_DISABLE_PLUGINS={offer.distribution}."
        ) from exc
    return command
