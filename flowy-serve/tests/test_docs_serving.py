"""Every worked example of docs/serving.md runs and prints what the page says it prints.

The page's format is tests/doc_examples.py's (stated at the top of the page): its
```python ``# file:`` blocks are written to a fresh project and its ```console
``$ flowy ...`` lines are run there, in order.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from serve_support import flowy_env, run_flowy

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository: tests.*

from tests.doc_examples import DOCS, run_section, sections

DOC = DOCS / "serving.md"
# Sections with commands to run (the predictor hook example is code to read, not run).
SECTIONS = [(t, b) for t, b in sections(DOC) if "```console" in b]


def test_the_page_has_runnable_examples() -> None:
    assert {t for t, _ in SECTIONS} >= {"Batch prediction", "A container build context"}


def _runner(cwd: Path, env: dict[str, str], timeout: float = 300) -> Any:
    return lambda *args: run_flowy(cwd, env, *args, timeout=timeout)


@pytest.mark.slow
@pytest.mark.parametrize("title,body", SECTIONS, ids=[t for t, _ in SECTIONS])
def test_example_runs_as_the_page_shows(title: str, body: str, tmp_path: Path) -> None:
    def env(home: Path, **extra: str) -> dict[str, str]:
        return flowy_env(home, **extra)

    project = run_section(title, body, tmp_path, env, _runner)
    if title == "A container build context":
        assert (project / "churn-image" / "Dockerfile").is_file()
    if title == "Batch prediction":
        import pandas as pd

        assert list(pd.read_parquet(project / "proba.parquet").columns) == ["proba_0", "proba_1"]
