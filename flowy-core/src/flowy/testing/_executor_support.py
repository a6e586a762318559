"""Helpers of the executor contract suite: reading marks, process liveness, random DAGs.

The other contract suites (tracker, cache strategy) import their step modules
by path with :func:`load_path_module` too.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs


@attrs.frozen
class Attempt:
    """One recorded attempt of a step: which process ran it, and when."""

    pid: int
    start: float
    end: float


def attempts(marks: str) -> dict[str, list[Attempt]]:
    """Every attempt recorded in ``marks``, by step name."""
    found: dict[str, list[Attempt]] = {}
    for entry in os.listdir(marks):
        if not entry.endswith(".mark"):
            continue
        name = entry.split(".", 1)[0]
        pid, start, end, *_ = Path(marks, entry).read_text().split()
        found.setdefault(name, []).append(Attempt(int(pid), float(start), float(end)))
    return found


def met_partner(marks: str, name: str) -> bool:
    """Whether the (single) attempt of ``name`` met its partner at the rendezvous."""
    for entry in os.listdir(marks):
        if entry.startswith(f"{name}.") and entry.endswith(".mark"):
            return "met=True" in Path(marks, entry).read_text().split()
    raise AssertionError(f"step {name!r} left no mark in {marks}")


def overlap(a: Attempt, b: Attempt) -> float:
    """Seconds during which both attempts ran."""
    return max(0.0, min(a.end, b.end) - max(a.start, b.start))


def alive(pid: int) -> bool:
    """Whether ``pid`` is a running process; a zombie (state Z) counts as dead.

    ``os.kill(pid, 0)`` succeeds for zombies, which would make a killed step
    whose parent has not reaped it yet look alive.
    """
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return False
    except OSError:  # no /proc (macOS): fall back to a signal probe
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    state = stat.rsplit(")", 1)[1].split()[0]
    return state not in ("Z", "X")


def random_dags(max_steps: int = 8) -> Any:
    """A hypothesis strategy: ``{step: [upstream steps]}``, every edge from an earlier step."""
    from hypothesis import strategies as st

    @st.composite
    def dags(draw: Any) -> dict[str, list[str]]:
        n = draw(st.integers(min_value=1, max_value=max_steps))
        edges: dict[str, list[str]] = {}
        for i in range(n):
            earlier = [f"n{j}" for j in range(i)]
            ups: list[str] = []
            if earlier:
                ups = draw(st.lists(st.sampled_from(earlier), unique=True, max_size=3))
            edges[f"n{i}"] = sorted(ups)
        return edges

    return dags()


def dag_source(edges: dict[str, list[str]]) -> str:
    """Python source of a pipeline with those edges; each step returns 1 + the sum of its inputs."""
    lines = [
        "import time",
        "from flowy import Pipeline, step",
        "from flowy.testing._contract_steps import mark",
        "",
    ]
    for name, ups in edges.items():
        args = ", ".join(["marks", *ups])
        lines += [
            "@step",
            f"def {name}({args}):",
            "    started = time.time()",
            f"    mark(marks, {name!r}, started)",
            f"    return 1 + {' + '.join(ups) if ups else '0'}",
            "",
        ]
    steps = ", ".join(edges)
    lines.append(f"pipeline = Pipeline('contract-dag', [{steps}], context={{'marks': ''}})")
    return "\n".join(lines) + "\n"


def load_path_module(folder: Path, name: str, source: str) -> ModuleType:
    """Write ``source`` to ``folder/name.py`` and import it by path, as ``flowy run FILE`` does."""
    path = folder / f"{name}.py"
    path.write_text(source)
    return import_path_module(path)


def import_path_module(path: Path) -> ModuleType:
    """Import the file ``path`` under its stem, as ``flowy run FILE`` does.

    The module is put in ``sys.modules`` and marked with ``__flowy_path__``, so
    the engine (and worker processes) treat its steps as a user's own code.
    """
    name = path.stem
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    module.__flowy_path__ = str(path)  # type: ignore[attr-defined]
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
