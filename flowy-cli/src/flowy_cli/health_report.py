"""``flowy doctor``'s run of every check, and its report: a table, or JSON, and an exit code.

JSON shape (``flowy doctor --json``)::

    {"ok": true, "status": "warn",
     "checks": [{"name": "schema", "status": "ok", "detail": "...", "fix": ""}, ...],
     "problems": ["<detail of each failed check>"]}

``ok`` is false exactly when a check failed (then the command exits 1); ``status``
is the worst of the checks' statuses.
"""

from __future__ import annotations

from typing import Any

import attrs

from flowy_cli import health_checks as hc
from flowy_cli import health_ops as ho
from flowy_cli.health_checks import FAIL, OK, WARN, Check

_RANK = {OK: 0, WARN: 1, FAIL: 2}
_SHOWN = {OK: "[green]✓ ok[/]", WARN: "[yellow]! warn[/]", FAIL: "[red]✗ fail[/]"}


def run_checks(stack: str | None, *, stale_after: float, min_free: int) -> list[Check]:
    """Every check on ``stack`` (the active one when None), in the order they are shown."""
    from flowy_cli.common import store_client

    with store_client(stack, check_index=False) as client:
        metadata, checks = hc.metadata_store(client)
        if metadata is not None:
            checks += hc.guarded("schema", lambda: hc.schema(metadata), "")
        artifacts, found = hc.artifact_store(client)
        checks += found
        checks += hc.guarded("disk", lambda: hc.disk(metadata, artifacts, min_free), "")
        if metadata is not None and artifacts is not None:
            checks += hc.guarded(
                "index", lambda: hc.index(metadata, artifacts), "Run `flowy doctor` again."
            )
        checks += hc.guarded("plugins", ho.plugins, "See `flowy plugins`.")
        if metadata is not None:
            checks += hc.guarded("running runs", lambda: ho.stale_runs(metadata, stale_after), "")
            checks += hc.guarded("circuit breakers", lambda: ho.breakers(metadata), "")
            checks += hc.guarded("scheduler", lambda: ho.scheduler(metadata), "")
    return checks


def worst(checks: list[Check]) -> str:
    return max((c.status for c in checks), key=_RANK.__getitem__, default=OK)


def report(checks: list[Check], as_json: bool) -> bool:
    """Print the checks; True when one failed (the caller exits 1)."""
    failed = [c for c in checks if c.status == FAIL]
    if as_json:
        from flowy_cli.output import print_json

        data: dict[str, Any] = {
            "ok": not failed,
            "status": worst(checks),
            "checks": [attrs.asdict(c) for c in checks],
            "problems": [f"{c.name}: {c.detail}" for c in failed],
        }
        print_json(data)
        return bool(failed)
    from flowy_cli.output import console, table
    from flowy_cli.terminal_text import escape_markup as escape

    out = console()
    grid = table("check", "status", "found", "what to do", whole=("check",))
    for c in checks:
        grid.add_row(escape(c.name), _SHOWN[c.status], escape(c.detail), escape(c.fix))
    out.print(grid)
    warned = sum(c.status == WARN for c in checks)
    if failed:
        out.print(f"[red]✗[/] {len(failed)} check(s) failed, {warned} warning(s).")
    elif warned:
        out.print(f"[yellow]![/] Healthy, with {warned} warning(s).")
    else:
        out.print(f"[green]✓[/] Healthy: {len(checks)} checks passed.")
    out.print("[dim]Temporary and unreferenced files: see `flowy gc --dry-run`.[/]")
    return bool(failed)
