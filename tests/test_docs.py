"""Documentation that must stay true: every hook spec is documented."""

from __future__ import annotations

import inspect
from pathlib import Path

from flowy.kernel import hookspecs

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_every_hookspec_is_documented_in_plugins_md():
    text = (DOCS / "plugins.md").read_text()
    specs = [
        n for n, _ in inspect.getmembers(hookspecs, inspect.isfunction) if n.startswith("flowy_")
    ]
    assert len(specs) >= 15
    missing = [name for name in specs if f"`{name}(" not in text]
    assert missing == [], f"hook specs missing from docs/plugins.md: {missing}"


def test_every_hookspec_has_a_docstring():
    for name, fn in inspect.getmembers(hookspecs, inspect.isfunction):
        if name.startswith("flowy_"):
            assert (fn.__doc__ or "").strip(), name


def test_cli_reference_is_generated_from_the_current_commands():
    import subprocess
    import sys

    script = DOCS.parent / "scripts" / "gen_cli_reference.py"
    done = subprocess.run(
        [sys.executable, str(script), "--check"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
