"""Small helpers shared by several commands: ``k=v`` parsing, the plugin manager, the
tracking client and the options many commands take (``--json``, ``--stack``, ``--output``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from flowy.kernel.plugins import FlowyPlugins
    from flowy.tracking import Client

_Command = TypeVar("_Command", bound=Callable[..., Any])


def parse_value(text: str) -> Any:
    """JSON when the text parses as JSON (``3``, ``true``, ``[1,2]``), else the string itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def split_assignments(items: Iterable[str], what: str) -> dict[str, str]:
    """``["a=1", "b=x"]`` -> ``{"a": "1", "b": "x"}``, values as typed; a malformed item
    is a usage error naming the option ``what``."""
    result: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise click.BadParameter(
                f"{item!r} is not KEY=VALUE (for example {what} threshold=0.5).", param_hint=what
            )
        result[key] = value
    return result


def parse_assignments(items: Iterable[str], what: str) -> dict[str, Any]:
    """``["a=1", "b=x"]`` -> ``{"a": 1, "b": "x"}``: each value read by :func:`parse_value`."""
    return {key: parse_value(value) for key, value in split_assignments(items, what).items()}


@cache
def plugin_manager() -> FlowyPlugins:
    """One plugin manager per CLI process, built on first need (entry points included)."""
    from flowy.kernel.plugins import create_plugin_manager

    return create_plugin_manager()


def store_client(stack: str | None, *, check_index: bool = True) -> Client:
    """A client on ``stack``'s stores (the active stack when None), with this process's plugins."""
    from flowy.tracking import Client

    return Client(stack=stack, plugins=plugin_manager(), check_index=check_index)


def json_option(fn: Any) -> Any:
    """The ``--json`` flag every list/show/describe command takes."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(
        fn
    )


def stack_option(
    help: str = "Read this stack's store instead of the active one.",
) -> Callable[[_Command], _Command]:
    """The ``--stack/-s NAME`` option; ``help`` says what the command does with that stack."""
    return click.option("--stack", "-s", metavar="NAME", help=help)


def output_option(fn: Any) -> Any:
    """``--output/-o FILE`` of a command that prints a file's text (see ``write_output``)."""
    return click.option(
        "--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
        help="Write to this file instead of stdout.",
    )(fn)  # fmt: skip


def write_output(text: str, output: Path | None) -> None:
    """Write ``text`` to the file ``output``, else to stdout with control characters escaped:
    lossless for any ordinary text, while a tampered record cannot drive the terminal."""
    if output is not None:
        output.write_text(text, encoding="utf-8")
        return
    import sys

    from flowy_cli.terminal_text import escape_text

    sys.stdout.write(escape_text(text, keep_lines=True))
