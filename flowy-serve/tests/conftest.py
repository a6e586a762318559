"""Fixtures of flowy-serve's tests (helpers: serve_support.py)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import pytest

# pytest's importlib mode does not put this folder on sys.path; the helpers live beside.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from serve_support import (
    SMALLER,
    flowy_env,
    run_flowy,
    train_artifact,
)


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., tuple[Path, dict[str, str]]]:
    """``trained(template, name)`` -> (project, env): the template's model in production."""
    made: dict[tuple[str, str], tuple[Path, dict[str, str]]] = {}

    def make(template: str, name: str) -> tuple[Path, dict[str, str]]:
        if (template, name) in made:
            return made[(template, name)]
        root = tmp_path_factory.mktemp(f"{template}-{name}")
        project = root / "project"
        (project / ".flowy").mkdir(parents=True)
        source = resources.files("flowy_cli.templates").joinpath(f"{template}/pipeline.py")
        text = source.read_text()
        for old, new in SMALLER.get(template, []):
            text = text.replace(old, new)
        (project / "pipeline.py").write_text(text)
        env = flowy_env(root / "home", FLOWY_USER="tester")
        run_flowy(project, env, "run", "pipeline.py")
        run_flowy(project, env, "model", "register", name, train_artifact(project, env))
        run_flowy(project, env, "model", "promote", name, "1", "--to", "production")
        made[(template, name)] = (project, env)
        return project, env

    return make
