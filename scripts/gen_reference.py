"""Write docs/reference.md: every public record field and every hook argument.

The text comes from the code: a record field's description is its attribute
docstring (the string literal right below the field) or ``metadata={"doc": ...}``;
a hook's description is its docstring, whose ``Args:`` section describes each
argument. ``python scripts/gen_reference.py`` rewrites the file;
``--check`` exits 1 when the file is stale or something is undocumented (a test
runs it, as pytest and Datasette keep their hook references complete).
"""

from __future__ import annotations

import ast
import inspect
import itertools
import re
import sys
import textwrap
from pathlib import Path
from typing import Any

import attrs

OUT = Path(__file__).resolve().parents[1] / "docs" / "reference.md"

#: The records documented, in the order a reader meets them: (module, class).
RECORDS = [
    ("flowy.run.engine", "RunResult"),
    ("flowy.kernel.records", "RunRecord"),
    ("flowy.kernel.records", "StepRunRecord"),
    ("flowy.kernel.records", "StepTask"),
    ("flowy.kernel.records", "StepResult"),
    ("flowy.kernel.records", "StepRef"),
    ("flowy.kernel.records", "ArtifactRef"),
    ("flowy.kernel.records", "ComponentSpec"),
    ("flowy.kernel.records", "MetricRecord"),
    ("flowy.kernel.records", "CacheEntry"),
    ("flowy.kernel.records", "RunChange"),
]

HEADER = """# Records and hooks reference

Generated from the code by `scripts/gen_reference.py`; do not edit by hand.
Records are attrs classes (converted with cattrs, see `flowy.kernel.records.to_dict`);
hooks are the specs in `flowy/kernel/hookspecs.py` (how to implement them:
[plugins.md](plugins.md); how they fit together: [architecture.md](architecture.md)).
"""


def record_classes() -> list[type]:
    """The documented records: those listed above plus any other attrs class of the records."""
    import importlib

    import flowy.kernel.records

    listed = [getattr(importlib.import_module(m), c) for m, c in RECORDS]
    extra = [
        obj
        for _, obj in sorted(vars(flowy.kernel.records).items())
        if isinstance(obj, type)
        and attrs.has(obj)
        and obj.__module__ == "flowy.kernel.records"
        and not obj.__name__.startswith("_")
        and obj not in listed
    ]
    return listed + extra


def attribute_docstrings(cls: type) -> dict[str, str]:
    """Field name -> the string literal written right below it in the class body."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs: dict[str, str] = {}
    for node, following in itertools.pairwise(body):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            docs[node.target.id] = inspect.cleandoc(following.value.value)
    return docs


_ROLE = re.compile(r":\w+:`~?([^`]+)`")


def markdown(text: str) -> str:
    """Sphinx roles (``:class:`~flowy.kernel.records.RunRecord```) as plain code spans."""
    return _ROLE.sub(r"`\1`", text)


def one_line(text: str) -> str:
    """Paragraphs of a docstring as one Markdown table cell (pipes escaped, as GFM needs)."""
    return markdown(" ".join(text.split())).replace("|", "\\|")


def field_default(field: Any) -> str:
    if field.default is attrs.NOTHING:
        return "required"
    if isinstance(field.default, attrs.Factory):  # type: ignore[arg-type]
        return f"`{field.default.factory()!r}`"
    return f"`{field.default!r}`"


def public_fields(cls: type) -> list[Any]:
    return [f for f in attrs.fields(cls) if not f.name.startswith("_")]


def field_doc(cls: type, field: Any, docs: dict[str, str]) -> str:
    return str(field.metadata.get("doc") or docs.get(field.name, "")).strip()


def hookspecs() -> list[tuple[str, Any]]:
    from flowy.kernel import hookspecs as specs

    return [
        (n, fn)
        for n, fn in inspect.getmembers(specs, inspect.isfunction)
        if n.startswith("flowy_") and fn.__module__ == specs.__name__
    ]


_ARG = re.compile(r"^(\w+): (.*)$")


def split_hook_doc(fn: Any) -> tuple[str, dict[str, str]]:
    """A hook docstring's text without its ``Args:`` section, and that section by argument."""
    doc = inspect.cleandoc(fn.__doc__ or "")
    text, _, section = doc.partition("\nArgs:\n")
    args: dict[str, str] = {}
    current = None
    for line in section.splitlines():
        match = _ARG.match(line.strip()) if not line.startswith("        ") else None
        if match:
            current = match.group(1)
            args[current] = match.group(2)
        elif current and line.strip():
            args[current] += " " + line.strip()
    return text.strip(), args


def undocumented() -> list[str]:
    """Every public record field and hook argument that has no description."""
    missing = []
    for cls in record_classes():
        docs = attribute_docstrings(cls)
        missing += [
            f"{cls.__module__}.{cls.__name__}.{f.name}"
            for f in public_fields(cls)
            if not field_doc(cls, f, docs)
        ]
    for name, fn in hookspecs():
        _, args = split_hook_doc(fn)
        missing += [
            f"flowy.kernel.hookspecs.{name}({arg})"
            for arg in inspect.signature(fn).parameters
            if not args.get(arg, "").strip()
        ]
    return missing


def render_record(cls: type) -> list[str]:
    docs = attribute_docstrings(cls)
    lines = [
        f"### `{cls.__module__}.{cls.__name__}`",
        "",
        markdown(inspect.cleandoc(cls.__doc__ or "")),
        "",
    ]
    lines += ["| field | type | default | description |", "|---|---|---|---|"]
    for f in public_fields(cls):
        kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
        text = one_line(field_doc(cls, f, docs))
        lines.append(f"| `{f.name}` | `{one_line(kind)}` | {field_default(f)} | {text} |")
    return [*lines, ""]


def render_hook(name: str, fn: Any) -> list[str]:
    text, args = split_hook_doc(fn)
    sig = inspect.signature(fn)
    params = ", ".join(sig.parameters)
    lines = [f"### `{name}({params})`", "", markdown(text), "", "| argument | type | description |"]
    lines.append("|---|---|---|")
    for arg, param in sig.parameters.items():
        lines.append(
            f"| `{arg}` | `{one_line(str(param.annotation))}` | {one_line(args.get(arg, ''))} |"
        )
    return [*lines, ""]


def generate() -> str:
    lines = [HEADER, "## Records", ""]
    for cls in record_classes():
        lines += render_record(cls)
    lines += ["## Hooks", ""]
    for name, fn in hookspecs():
        lines += render_hook(name, fn)
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    missing = undocumented()
    if missing:
        print("undocumented (add an attribute docstring or an Args: entry):", file=sys.stderr)
        for item in missing:
            print(f"  {item}", file=sys.stderr)
        return 1
    text = generate()
    if "--check" in sys.argv:
        if not OUT.exists() or OUT.read_text() != text:
            print(f"{OUT} is stale: run python scripts/gen_reference.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
