"""Rendering lineage graphs and artifact records: JSON for programs, trees for people."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flowy.kernel.catalog import ArtifactInfo, LineageGraph, StepNode
    from rich.tree import Tree


def info_dict(info: ArtifactInfo) -> dict[str, Any]:
    """An artifact record plus where it came from: a superset of ``to_dict(ArtifactRef)``."""
    from flowy.kernel.records import to_dict

    return {
        **to_dict(info.artifact),
        "run_id": info.run_id,
        "step": info.step,
        "pipeline": info.pipeline,
        "created_at": info.created_at,
        "asset_type": info.asset_type,
        "asset_name": info.asset_name,
        "tags": list(info.tags),
    }


def graph_dict(graph: LineageGraph) -> dict[str, Any]:
    """The graph as JSON: artifacts by id, step runs with their edges, distances."""
    from flowy.kernel.records import to_dict

    return {
        "root": graph.root,
        "upstream": dict(sorted(graph.upstream.items(), key=lambda kv: (kv[1], kv[0]))),
        "downstream": dict(sorted(graph.downstream.items(), key=lambda kv: (kv[1], kv[0]))),
        "artifacts": {aid: info_dict(info) for aid, info in sorted(graph.artifacts.items())},
        "steps": [to_dict(node) for node in graph.steps],
    }


def _label(graph: LineageGraph, aid: str) -> str:
    from flowy_cli.terminal_text import escape_markup as escape

    info = graph.artifacts.get(aid)
    if info is None:
        return escape(aid[:12])
    kind = info.asset_type if info.asset_type != "artifact" else info.artifact.type_name
    name = info.asset_name or info.artifact.name
    return f"[bold]{escape(name)}[/] [dim]{escape(aid[:12])} {escape(kind)}[/]"


def _step_label(node: StepNode, arrow: str) -> str:
    from flowy_cli.terminal_text import escape_markup as escape

    return f"{arrow} [cyan]{escape(node.step)}[/] [dim]run {escape(node.run_id[:12])}[/]"


def _grow(
    graph: LineageGraph, tree: Tree, aid: str, upstream: bool, seen: set[str], *, depth: int
) -> None:
    nodes = [
        n for n in graph.steps if aid in (n.outputs.values() if upstream else n.inputs.values())
    ]
    for node in nodes:
        branch = tree.add(_step_label(node, "<-" if upstream else "->"))
        for child in (node.inputs if upstream else node.outputs).values():
            leaf = branch.add(_label(graph, child))
            if child in seen:
                leaf.label = f"{leaf.label} [dim](shown above)[/]"
                continue
            seen.add(child)
            if depth < 200:
                _grow(graph, leaf, child, upstream, seen, depth=depth + 1)


def render_graph(graph: LineageGraph, *, upstream: bool, downstream: bool) -> None:
    """Ancestors and descendants as trees rooted at the artifact; repeats marked, not redrawn."""
    from rich.tree import Tree

    from flowy_cli.output import console

    out = console()
    views = (
        (upstream, "upstream", graph.upstream, "(no ancestors: a source artifact)"),
        (downstream, "downstream", graph.downstream, "(nothing was made from it yet)"),
    )
    for wanted, direction, edges, when_none in views:
        if not wanted:
            continue
        tree = Tree(_label(graph, graph.root) + f" [dim]{direction}[/]")
        _grow(graph, tree, graph.root, direction == "upstream", {graph.root}, depth=0)
        out.print(tree)
        if not edges:
            out.print(f"  [dim]{when_none}[/]")
