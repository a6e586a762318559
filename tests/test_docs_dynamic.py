"""Every worked example in docs/dynamic.md runs, and prints what the page says it prints.

The page's format is in tests/doc_examples.py (and stated at the top of the page).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.doc_examples import DOCS, run_section, sections

DOC = DOCS / "dynamic.md"


def test_the_page_has_an_example_for_every_feature() -> None:
    titles = [title for title, _ in sections(DOC)]
    assert len(titles) >= 1, "docs/dynamic.md has no runnable example"


@pytest.mark.parametrize("title,body", sections(DOC), ids=[t for t, _ in sections(DOC)])
def test_example_runs_as_the_page_shows(
    title: str,
    body: str,
    tmp_path: Path,
    flowy_env: Callable[..., dict[str, str]],
    flowy_runner: Callable[..., Any],
) -> None:
    run_section(title, body, tmp_path, flowy_env, flowy_runner)
