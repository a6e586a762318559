"""Views of a pipeline's DAG: a text tree, Mermaid, Graphviz DOT and a self-drawn SVG.

``Pipeline.visualize()`` and ``flowy show`` use these. A parameter is shown
by name with the value a run would get without overrides (the pipeline's
context, else the step's default, else ``required``), never as an opaque
placeholder. The SVG is laid out here (steps in columns by topological
generation, networkx), so no Graphviz binary is needed. Steps of a nested
pipeline (:mod:`flowy.run.nesting`) are grouped: a list of the nests under the
text view, a ``subgraph`` per nest in Mermaid, a ``cluster_`` subgraph in DOT.
"""

from __future__ import annotations

import html
import json
import re
from typing import TYPE_CHECKING, Any

from flowy.run.branching import several, shown

if TYPE_CHECKING:
    from flowy.run.graph import PipelineGraph

FORMATS = ("text", "mermaid", "dot", "svg")
_MISSING = object()


def param_values(pipeline: PipelineGraph, step_name: str) -> dict[str, Any]:
    """``param -> value`` a run gets by default; ``_MISSING`` when it must be given."""
    signature = pipeline.steps[step_name].signature.parameters
    values = {}
    for name in pipeline.params[step_name]:
        if name in pipeline.context:
            values[name] = pipeline.context[name]
        else:
            default = signature[name].default
            values[name] = _MISSING if default is signature[name].empty else default
    return values


def _param_text(values: dict[str, Any]) -> list[str]:
    return [
        f"{name} (required)" if value is _MISSING else f"{name}={_short(value)}"
        for name, value in values.items()
    ]


def _short(value: Any, limit: int = 40) -> str:
    try:
        text = json.dumps(value, default=repr)
    except ValueError:  # NaN in a strict sense: show Python's form
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _edges(pipeline: PipelineGraph) -> list[tuple[str, str, list[str]]]:
    """``(producer, consumer, outputs passed)`` for every edge, in step order; the output a
    ``branch=`` reads is named ``route (branch)``."""
    edges = []
    for name in pipeline.order:
        branch = pipeline.steps[name].branch
        for up in pipeline.upstream_of[name]:
            passed = [i for i in pipeline.inputs[name] if pipeline.producer[i] == up]
            if branch is not None and pipeline.producer.get(branch[0]) == up:
                passed.append(f"{branch[0]} (branch)")
            edges.append((up, name, passed))
    return edges


def _options_text(pipeline: PipelineGraph, name: str) -> str:
    """``  [map over items]``, ``  [branch: route == 'fast']``: what the text view adds."""
    step = pipeline.steps[name]
    marks = []
    if step.map is not None:
        marks.append(f"map over {step.map}")
    if step.branch is not None:
        output, expected = step.branch
        relation = "in" if several(expected) else "=="
        marks.append(f"branch: {output} {relation} {', '.join(shown(expected))}")
    return "".join(f"  [{m}]" for m in marks)


def generations(pipeline: PipelineGraph) -> list[list[str]]:
    """Steps by topological generation (each sorted by name)."""
    import networkx as nx

    return [sorted(g) for g in nx.topological_generations(pipeline.graph)]


def nests_of(pipeline: PipelineGraph) -> dict[str, str]:
    """Nest prefix -> the pipeline nested there (``Pipeline.nests``; none for other graphs)."""
    return dict(getattr(pipeline, "nests", None) or {})


def nest_of(nests: dict[str, str], step: str) -> str | None:
    """The innermost nest ``step`` belongs to (``a.prep`` for ``a.prep.clean``), or None."""
    found = [n for n in nests if step.startswith(n + ".")]
    return max(found, key=len) if found else None


def _grouped(
    pipeline: PipelineGraph, node: Any, open_group: Any, indent: str = "    "
) -> list[str]:
    """Node lines, each nest's inside its group (``open_group(nest) -> (first, last)``)."""
    nests = nests_of(pipeline)
    members: dict[str | None, list[str]] = {}
    for name in pipeline.order:
        members.setdefault(nest_of(nests, name), []).append(name)
    children: dict[str | None, list[str]] = {}
    for nest in sorted(nests):
        children.setdefault(nest_of(nests, nest), []).append(nest)  # its parent

    def block(nest: str | None, depth: int) -> list[str]:
        pad = indent * depth
        lines = [pad + node(name) for name in members.get(nest, [])]
        for child in children.get(nest, []):
            first, last = open_group(child)
            lines.append(pad + first)
            lines.extend(block(child, depth + 1))
            lines.append(pad + last)
        return lines

    return block(None, 1)


def text(pipeline: PipelineGraph) -> str:
    """Steps by generation: what each takes (inputs, parameters with values) and makes."""
    lines = [f"pipeline {pipeline.name} ({len(pipeline.steps)} steps)"]
    edges = _edges(pipeline)
    for level, generation in enumerate(generations(pipeline)):
        for name in generation:
            takes = pipeline.inputs[name] + _param_text(param_values(pipeline, name))
            outputs = ", ".join(pipeline.steps[name].outputs) + _options_text(pipeline, name)
            lines.append(f"  [{level}] {name}({', '.join(takes)}) -> {outputs}")
            for up, consumer, passed in edges:
                if up == name:
                    lines.extend(f"        {out} --> {consumer}" for out in passed)
    nests = nests_of(pipeline)
    if nests:
        lines.append("  nested pipelines:")
        for nest, inner in sorted(nests.items()):
            count = sum(1 for name in pipeline.steps if name.startswith(nest + "."))
            lines.append(f"    {nest} = {inner} ({count} step{'s' if count != 1 else ''})")
    return "\n".join(lines)


def _node_id(name: str) -> str:
    return "s_" + re.sub(r"[^A-Za-z0-9_]", "_", name)


def mermaid(pipeline: PipelineGraph) -> str:
    """A Mermaid flowchart: one node per step (label: name and parameters), edges named."""
    nests = nests_of(pipeline)

    def node(name: str) -> str:
        label = name + "".join(f"<br/>{p}" for p in _param_text(param_values(pipeline, name)))
        return f'{_node_id(name)}["{_mermaid_escape(label)}"]'

    def group(nest: str) -> tuple[str, str]:
        title = _mermaid_escape(f"{nest} (pipeline {nests[nest]})")
        return f'subgraph n_{_node_id(nest)[2:]}["{title}"]', "end"

    lines = ["flowchart TD", *_grouped(pipeline, node, group)]
    for up, consumer, passed in _edges(pipeline):
        lines.append(
            f"    {_node_id(up)} -->|{_mermaid_escape(', '.join(passed))}| {_node_id(consumer)}"
        )
    return "\n".join(lines)


def _mermaid_escape(value: str) -> str:
    return value.replace('"', "#quot;").replace("|", "#124;")


def dot(pipeline: PipelineGraph) -> str:
    """Graphviz DOT: one node per step (label: name and parameters), edges named."""

    def quote(value: str) -> str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'

    nests = nests_of(pipeline)

    def node(name: str) -> str:
        label = "\n".join([name, *_param_text(param_values(pipeline, name))])
        return f"{quote(name)} [label={quote(label)}];"

    def group(nest: str) -> tuple[str, str]:
        title = quote(f"{nest} (pipeline {nests[nest]})")
        return f"subgraph {quote('cluster_' + nest)} {{ label={title}; style=dashed;", "}"

    lines = [f"digraph {quote(pipeline.name)} {{", "    rankdir=TB;", "    node [shape=box];"]
    lines += _grouped(pipeline, node, group)
    for up, consumer, passed in _edges(pipeline):
        lines.append(f"    {quote(up)} -> {quote(consumer)} [label={quote(', '.join(passed))}];")
    lines.append("}")
    return "\n".join(lines)


def svg(pipeline: PipelineGraph) -> str:
    """The DAG as standalone SVG: generations top to bottom, one ``<g class="step">`` per step."""
    box_w, box_h, gap_x, gap_y, margin = 200, 56, 40, 60, 20
    levels = generations(pipeline)
    widest = max((len(g) for g in levels), default=1)
    width = margin * 2 + widest * box_w + (widest - 1) * gap_x
    height = margin * 2 + len(levels) * box_h + max(len(levels) - 1, 0) * gap_y
    where: dict[str, tuple[float, float]] = {}
    for row, generation in enumerate(levels):
        row_w = len(generation) * box_w + (len(generation) - 1) * gap_x
        for col, name in enumerate(generation):
            x = (width - row_w) / 2 + col * (box_w + gap_x)
            where[name] = (x, margin + row * (box_h + gap_y))
    esc = html.escape
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="sans-serif">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" '
        'markerWidth="8" markerHeight="8" orient="auto-start-reverse">'
        '<path d="M 0 0 L 10 5 L 0 10 z" fill="#57606a"/></marker></defs>',
        f"<title>{esc(pipeline.name)}</title>",
    ]
    for up, consumer, passed in _edges(pipeline):
        (x1, y1), (x2, y2) = where[up], where[consumer]
        parts.append(
            f'<line class="edge" data-from="{esc(up)}" data-to="{esc(consumer)}" '
            f'x1="{x1 + box_w / 2:.1f}" y1="{y1 + box_h:.1f}" x2="{x2 + box_w / 2:.1f}" '
            f'y2="{y2:.1f}" stroke="#57606a" marker-end="url(#arrow)">'
            f"<title>{esc(', '.join(passed))}</title></line>"
        )
    for name, (x, y) in where.items():
        params = ", ".join(_param_text(param_values(pipeline, name)))
        parts.append(
            f'<g class="step" data-step="{esc(name)}"><rect x="{x:.1f}" y="{y:.1f}" '
            f'width="{box_w}" height="{box_h}" rx="6" fill="#f6f8fa" stroke="#0969da"/>'
            f'<text x="{x + box_w / 2:.1f}" y="{y + 22:.1f}" font-size="13" '
            f'text-anchor="middle" font-weight="bold">{esc(name)}</text>'
            f'<text x="{x + box_w / 2:.1f}" y="{y + 42:.1f}" font-size="10" '
            f'text-anchor="middle" fill="#57606a">{esc(_short(params, 34) if params else "")}'
            "</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)


def render(pipeline: PipelineGraph, fmt: str) -> str:
    """The DAG in ``fmt`` (one of :data:`FORMATS`)."""
    views = {"text": text, "mermaid": mermaid, "dot": dot, "svg": svg}
    if fmt not in views:
        raise ValueError(f"unknown DAG format {fmt!r}; use one of {', '.join(FORMATS)}")
    return views[fmt](pipeline)
