"""Small helpers shared by several commands: ``k=v`` parsing and the plugin manager."""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from flowy.kernel.plugins import FlowyPlugins


def parse_value(text: str) -> Any:
    """JSON when the text parses as JSON (``3``, ``true``, ``[1,2]``), else the string itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_assignments(items: Iterable[str], what: str) -> dict[str, Any]:
    """``["a=1", "b=x"]`` -> ``{"a": 1, "b": "x"}``; a malformed item is a usage error."""
    result: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise click.BadParameter(
                f"{item!r} is not KEY=VALUE (for example {what} threshold=0.5).", param_hint=what
            )
        result[key] = parse_value(value)
    return result


@cache
def plugin_manager() -> FlowyPlugins:
    """One plugin manager per CLI process, built on first need (entry points included)."""
    from flowy.kernel.plugins import create_plugin_manager

    return create_plugin_manager()


def json_option(fn: Any) -> Any:
    """The ``--json`` flag every list/show/describe command takes."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(
        fn
    )
