"""The checks a plugin's ``flowy <plugin> check`` command runs, and how they are shown.

flowy-aws, flowy-gcp and flowy-azure each check credentials, a bucket or container and
their job service, one :class:`Check` per question; the command prints them the same way
(a coloured status, what was found, how to fix it) or as JSON, and exits 1 when one
failed. Here once, so a third-party cloud plugin gets the same output by using it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import attrs

PASS, FAIL, WARN, SKIP = "pass", "fail", "warn", "skip"
_COLOURS = {PASS: "green", FAIL: "red", WARN: "yellow", SKIP: "blue"}


@attrs.frozen
class Check:
    """One answer: ``name`` (what was checked), a status, what was found, how to fix it."""

    name: str
    status: str
    detail: str
    fix: str = ""


def checks_json(results: Sequence[Check]) -> str:
    """``[{"check", "status", "detail", "fix"}, ...]``, indented."""
    return json.dumps(
        [{"check": c.name, "status": c.status, "detail": c.detail, "fix": c.fix} for c in results],
        indent=2,
    )


def show_checks(results: Sequence[Check], as_json: bool = False) -> int:
    """Print ``results`` (as JSON, or one coloured line each with its fix); the exit code.

    1 when a check failed, else 0. Printed with click, which the ``flowy`` command brings.
    """
    import click

    if as_json:
        click.echo(checks_json(results))
    else:
        for c in results:
            mark = click.style(f"{c.status.upper():4}", fg=_COLOURS.get(c.status), bold=True)
            click.echo(f"{mark}  {c.name}: {c.detail}")
            if c.fix and c.status != PASS:
                click.echo(f"      fix: {c.fix}")
    return 1 if any(c.status == FAIL for c in results) else 0
