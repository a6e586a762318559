"""``flowy materializers [--json]`` and ``flowy materializers which TYPE``.

The list comes from the registry alone: each registration names the types it
handles, its on-disk format, its version (``materializer_version``), whether
loading is safe from an untrusted store, and ``requires``: the *import
names* of its framework. Availability is checked with
``importlib.util.find_spec``, which finds a package without importing it, so
listing is fast and imports neither torch nor tensorflow.

``which TYPE`` imports the type (a user asking about ``pandas.DataFrame``
expects pandas to load) and shows, class by class along its MRO, which
materializers claim it and which one wins, with the tie-break rule.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

import click

from flowy_cli.common import json_option, plugin_manager

if TYPE_CHECKING:
    from flowy.kernel.registry import Registration

TIE_RULE = (
    "The first class in the MRO that any materializer claims decides; among its claimants the "
    "highest priority wins, then the distribution name, then the materializer name. A claimant "
    "whose accepts() refuses the value passes to the next. Pickle is never chosen by type: "
    "only with allow_pickle, when nothing else accepts."
)


def _missing(requires: list[str]) -> list[str]:
    missing = []
    for name in requires:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(name)
    return missing


def _version(reg: Registration) -> str:
    """The registered ``materializer_version``, else the class's (its module is light)."""
    if "materializer_version" in reg.info:
        return str(reg.info["materializer_version"])
    try:
        return str(reg.load().version)
    except Exception:  # noqa: BLE001 - a broken plugin shows as "?" here, its error elsewhere
        return "?"


def _row(reg: Registration) -> dict[str, Any]:
    info = reg.info
    missing = _missing(list(info.get("requires", [])))
    install = info.get("install") or reg.distribution
    return {
        "name": reg.name,
        "distribution": reg.distribution,
        "types": list(info.get("types", [])),
        "format": info.get("format", ""),
        "extension": info.get("extension", ""),
        "version": _version(reg),
        "safe": bool(info.get("safe", True)),
        "priority": int(info.get("priority", 0)),
        "requires": list(info.get("requires", [])),
        "available": not missing,
        "reason": f"missing {', '.join(missing)}: pip install '{install}'" if missing else "",
        "description": info.get("description", ""),
    }


def collect() -> list[dict[str, Any]]:
    """One row per registered materializer (the ``--json`` payload)."""
    return [_row(reg) for reg in plugin_manager().registry.all("materializer")]


@click.group(invoke_without_command=True)
@json_option
@click.pass_context
def materializers(ctx: click.Context, as_json: bool) -> None:
    """Materializers: types handled, format, version, safety, framework installed."""
    if ctx.invoked_subcommand is not None:
        return
    from rich.markup import escape

    from flowy_cli.output import print_json, print_table

    rows = collect()
    if as_json:
        print_json({"materializers": rows})
        return

    def cells(row: dict[str, Any]) -> list[str]:
        safe = "[green]yes[/]" if row["safe"] else "[red]no[/] (allow_pickle)"
        available = "[green]yes[/]" if row["available"] else f"[red]no[/] {escape(row['reason'])}"
        types = "\n".join(escape(t) for t in row["types"]) or "[dim](opt-in only)[/]"
        return [escape(row["name"]), types, escape(row["extension"]), escape(row["version"]),
                safe, available]  # fmt: skip

    print_table(
        ["name", "types", "file", "version", "safe", "available"],
        (cells(r) for r in rows),
        empty="No materializers are registered.",
    )


def _import_type(dotted: str) -> type | None:
    """``pkg.mod.Class`` (or ``pkg.mod:Class``) as a class, or None when it cannot import."""
    module_name, _, attr = dotted.replace(":", ".").rpartition(".")
    parts = [attr]
    while module_name:
        try:
            obj: Any = importlib.import_module(module_name)
        except ImportError:
            module_name, _, head = module_name.rpartition(".")
            parts.insert(0, head)
            continue
        try:
            for part in parts:
                obj = getattr(obj, part)
        except AttributeError:
            return None
        return obj if isinstance(obj, type) else None
    return None


@materializers.command()
@click.argument("type_name", metavar="TYPE")
@json_option
def which(type_name: str, as_json: bool) -> None:
    """How TYPE (e.g. pandas.DataFrame) resolves through its MRO, and why."""
    from flowy.artifacts import PICKLE_NAMES, MaterializerRegistry
    from flowy.artifacts import type_name as qualified
    from flowy.kernel.errors import FlowyError
    from rich.markup import escape

    from flowy_cli.output import console, print_json

    cls = _import_type(type_name)
    if cls is None:
        raise FlowyError(
            f"Cannot import the type {type_name!r}. Give its importable dotted name "
            "(for example pandas.DataFrame or torch.nn.Module) and make sure its package is "
            "installed in this environment."
        )
    registry = plugin_manager().registry
    explained = MaterializerRegistry(registry).explain(cls)
    regs = {r.name: r for r in registry.all("materializer")}
    order = [n for _, names in explained for n in names if n not in PICKLE_NAMES]
    # A materializer whose framework is missing is skipped when a value is stored.
    usable = [n for n in order if not _missing(list(regs[n].info.get("requires", [])))]
    chosen = usable[0] if usable else order[0] if order else None
    # Several usable claimants: the first takes only values its accepts() agrees to (torch
    # claims dict for state_dicts); which one writes a given value depends on the value.
    depends = len(usable) > 1
    if as_json:
        print_json({
            "type": qualified(cls),
            "mro": [{"class": k, "materializers": v} for k, v in explained],
            "chosen": chosen,
            "order": order,
            "depends_on_value": depends,
            "available": chosen is not None and not _missing(regs[chosen].info.get("requires", [])),
            "rule": TIE_RULE,
        })  # fmt: skip
        return
    out = console()
    out.print(f"[bold]{escape(qualified(cls))}[/]")
    for klass, names in explained:
        claim = ", ".join(names) if names else "[dim]-[/]"
        mark = "  [green]<- decides[/]" if chosen and chosen in names else ""
        out.print(f"  {escape(klass)}: {claim}{mark}")
    if chosen is None:
        out.print("No safe materializer claims this type: a step returning it fails unless it "
                  "opts in with allow_pickle=True (the pickle materializer).")  # fmt: skip
    elif depends:
        takes = ", otherwise ".join(
            f"{n} if it accepts it ({regs[n].info.get('description', '')})" for n in usable[:-1]
        )
        last = usable[-1]
        out.print(
            f"Depends on the value: {escape(takes)}, otherwise {escape(last)} "
            f"({escape(str(regs[last].info.get('description', '')))})."
        )
    else:
        missing = _missing(list(regs[chosen].info.get("requires", [])))
        note = f" [red](unavailable: missing {', '.join(missing)})[/]" if missing else ""
        out.print(f"Chosen: [bold]{escape(chosen)}[/]{note}")
        if len(order) > 1:
            asked = ", then ".join(f"{n} ({regs[n].info.get('description', '')})" for n in order)
            out.print(f"Asked in order, until one accepts the value: {escape(asked)}")
    out.print(f"[dim]{escape(TIE_RULE)}[/]")
