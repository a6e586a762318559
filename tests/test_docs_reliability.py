"""docs/reliability.md backs every guarantee with a named test: each must exist.

A guarantee whose test was renamed or deleted would be a promise nobody checks,
so this fails when a reference (``path::test_name`` or a test file) is stale.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "reliability.md"
REFERENCE = re.compile(r"`((?:[\w.-]+/)*test_\w+\.py)(?:::(\w+))?`")


def _test_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test")
    }


def test_every_guarantee_names_a_test_that_exists() -> None:
    references = REFERENCE.findall(DOC.read_text())
    assert len(references) >= 30, "docs/reliability.md should name the tests behind its guarantees"
    missing = []
    for file, name in references:
        path = ROOT / file
        if not path.is_file():
            missing.append(file)
        elif name and name not in _test_names(path):
            missing.append(f"{file}::{name}")
    assert not missing, f"docs/reliability.md names tests that do not exist: {missing}"


def test_every_section_of_guarantees_is_backed() -> None:
    """Each section that states guarantees names at least one test."""
    sections = re.split(r"^## ", DOC.read_text(), flags=re.M)[1:]
    unbacked = [
        s.splitlines()[0]
        for s in sections
        if not s.startswith("Known limits") and not REFERENCE.search(s)
    ]
    assert not unbacked, f"sections without a test: {unbacked}"
