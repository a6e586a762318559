"""The component flags of ``flowy stack register`` and ``update``, and how they merge.

``--executor TYPE`` and ``--executor-option KEY=VALUE`` (likewise for the artifact store,
metadata store and tracker), ``--component KIND=TYPE`` for kinds a plugin adds and
``--option KIND.KEY=VALUE`` for any component: declared once here, merged into a stack's
components by :func:`apply_component_flags` (picking another distribution of the same
component with ``dist:name`` keeps its options, as docs/stacks.md says).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from flowy_cli.common import parse_assignments

#: Component kinds with their own flags (others: --component KIND=TYPE, --option KIND.KEY=VALUE).
FLAG_KINDS = ("executor", "artifact_store", "metadata_store", "tracker")


def component_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The flags shared by ``register`` and ``update``."""
    for kind in reversed(FLAG_KINDS):
        flag = kind.replace("_", "-")
        fn = click.option(
            f"--{flag}-option",
            f"{kind}_options",
            multiple=True,
            metavar="KEY=VALUE",
            help=f"An option of the {kind.replace('_', ' ')} (repeatable).",
        )(fn)
        fn = click.option(
            f"--{flag}", kind, metavar="TYPE", help=f"The {kind.replace('_', ' ')} implementation."
        )(fn)
    fn = click.option(
        "--component",
        "extra_components",
        multiple=True,
        metavar="KIND=TYPE",
        help="A component of another kind (one a plugin adds).",
    )(fn)
    fn = click.option(
        "--option",
        "extra_options",
        multiple=True,
        metavar="KIND.KEY=VALUE",
        help="An option of any component.",
    )(fn)
    fn = click.option("--description", "-d", help="A line saying what the stack is for.")(fn)
    fn = click.option(
        "--user", is_flag=True, help="Write to the user folder (FLOWY_HOME), not the project."
    )(fn)
    return fn


def apply_component_flags(components: dict[str, dict[str, Any]], flags: dict[str, Any]) -> None:
    """Merge the component flags into ``components`` (in place)."""
    for kind in FLAG_KINDS:
        if flags.get(kind):
            previous = components.get(kind, {})
            # `dist:name` picks a distribution for the same component: its options stay.
            same = (
                str(previous.get("type", "")).rpartition(":")[2] == flags[kind].rpartition(":")[2]
            )
            keep = {k: v for k, v in previous.items() if k != "provided_by"} if same else {}
            components[kind] = {**keep, "type": flags[kind]}
        options = parse_assignments(
            flags.get(f"{kind}_options", ()), f"--{kind.replace('_', '-')}-option"
        )
        if options:
            if kind not in components:
                raise click.UsageError(
                    f"--{kind.replace('_', '-')}-option needs a {kind.replace('_', ' ')}: "
                    f"pass --{kind.replace('_', '-')} TYPE."
                )
            components[kind].update(options)
    for item in parse_assignments(flags.get("extra_components", ()), "--component").items():
        components[item[0]] = {**components.get(item[0], {}), "type": str(item[1])}
    for dotted, value in parse_assignments(flags.get("extra_options", ()), "--option").items():
        kind, sep, key = dotted.partition(".")
        if not sep or kind not in components:
            raise click.UsageError(
                f"--option {dotted}=...: write KIND.KEY=VALUE for a component of the stack "
                f"({', '.join(components) or 'none yet'})."
            )
        components[kind][key] = value
