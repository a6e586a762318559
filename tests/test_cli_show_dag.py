"""``flowy show FILE.py``: a pipeline's DAG as text, Mermaid, DOT and SVG, through the real command.

A diamond (``load`` feeds ``left`` and ``right``, both feed ``join``): every
format has each step once and exactly the four edges, and parameters are
shown by name with their default value (never as ``ctx``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

FLOWY_SCRIPT = Path(sys.executable).with_name("flowy")
FLOWY = [str(FLOWY_SCRIPT)] if FLOWY_SCRIPT.exists() else [sys.executable, "-m", "flowy_cli.main"]
STEPS = {"load", "left", "right", "join"}
EDGES = {("load", "left"), ("load", "right"), ("left", "join"), ("right", "join")}

DIAMOND = """
from flowy import Context, Pipeline, step


@step
def load(n: int = 5) -> list:
    return list(range(n))


@step
def left(load: list, scale: float = 2.5) -> float:
    return sum(load) * scale


@step
def right(load: list, label: str = "r") -> int:
    return len(load)


@step
def join(left: float, right: int, seed: int) -> float:
    return left + right + seed


pipeline = Pipeline("diamond", [load, left, right, join], context=Context(seed=7))
"""


@pytest.fixture
def diamond(tmp_path: Path) -> Path:
    (tmp_path / "pipeline.py").write_text(DIAMOND, encoding="utf-8")
    return tmp_path


def show(folder: Path, *args: str) -> str:
    env = {**os.environ, "FLOWY_HOME": str(folder / "home"), "NO_COLOR": "1"}
    done = subprocess.run(
        [*FLOWY, "show", "pipeline.py", *args], cwd=folder, env=env, capture_output=True,
        text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_text_tree_shows_generations_and_defaults(diamond: Path):
    out = show(diamond)
    assert "pipeline diamond (4 steps)" in out
    assert "[0] load(n=5) -> load" in out
    assert "[1] left(load, scale=2.5) -> left" in out
    assert '[1] right(load, label="r") -> right' in out
    assert "[2] join(left, right, seed=7) -> join" in out
    assert "ctx" not in out
    arrows = set(re.findall(r"^\s+(\w+) --> (\w+)$", out, re.M))
    assert arrows == EDGES


def test_mermaid_edges(diamond: Path):
    out = show(diamond, "--format", "mermaid")
    assert out.startswith("flowchart TD")
    edges = set(re.findall(r"s_(\w+) -->\|[^|]*\| s_(\w+)", out))
    assert edges == EDGES
    assert set(re.findall(r'^\s+s_(\w+)\["', out, re.M)) == STEPS
    assert "scale=2.5" in out and "seed=7" in out


def test_dot_edges(diamond: Path):
    out = show(diamond, "--format", "dot")
    assert out.startswith('digraph "diamond" {') and out.rstrip().endswith("}")
    assert set(re.findall(r'"(\w+)" -> "(\w+)"', out)) == EDGES
    assert 'label="load\\nn=5"' in out


def test_svg_is_well_formed_with_one_node_per_step(diamond: Path):
    out = show(diamond, "--format", "svg", "-o", "dag.svg")
    assert out == ""
    root = ET.parse(diamond / "dag.svg").getroot()
    ns = "{http://www.w3.org/2000/svg}"
    steps = [g.get("data-step") for g in root.iter(f"{ns}g") if g.get("class") == "step"]
    assert sorted(steps) == sorted(STEPS)
    edges = {(e.get("data-from"), e.get("data-to")) for e in root.iter(f"{ns}line")}
    assert edges == EDGES


def test_visualize_shows_parameter_values(diamond: Path):
    sys.path.insert(0, str(diamond))
    try:
        import importlib

        module = importlib.import_module("pipeline")
        text = module.pipeline.visualize()
    finally:
        sys.path.remove(str(diamond))
        sys.modules.pop("pipeline", None)
    assert "join(left, right, seed=7)" in text and "ctx" not in text
