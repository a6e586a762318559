"""The import contracts of pyproject.toml hold, and they catch what they are written to catch.

The layers of flowy-core, the purity of the kernel, the independence of the plugins and the
public surface a plugin may import are import-linter contracts ([tool.importlinter] in the
root pyproject.toml; docs/architecture.md draws the same picture). ``nox -s lint`` runs
``lint-imports``; this test runs it too, so CI (``nox -s tests``) fails on a change that
crosses a layer. A second test proves the public-surface contract is not vacuous: a
throwaway plugin that reaches into a layer's private module breaks it, one that imports
the layer package does not.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def _lint_imports() -> str:
    """The ``lint-imports`` of the running interpreter's environment (a test dependency)."""
    beside = Path(sys.executable).with_name("lint-imports")
    found = str(beside) if beside.exists() else shutil.which("lint-imports")
    assert found, "import-linter is a test dependency (noxfile.py TEST_DEPS): install it"
    return found


def _run(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_lint_imports(), "--no-cache", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def _contracts() -> list[dict[str, Any]]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    contracts: list[dict[str, Any]] = config["tool"]["importlinter"]["contracts"]
    return contracts


def test_every_import_contract_is_kept() -> None:
    done = _run(cwd=REPO)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    for contract in _contracts():
        assert f"{contract['name']} KEPT" in " ".join(output.split()), output


def test_the_documented_contract_ids_exist() -> None:
    ids = {c["id"] for c in _contracts()}
    documented = (REPO / "docs" / "architecture.md").read_text()
    for contract_id in ids:
        assert f"`{contract_id}`" in documented, f"docs/architecture.md does not name {contract_id}"
    assert {"layers", "kernel-pure", "plugins-public-api", "no-cycles"} <= ids


def test_a_plugin_reaching_into_a_layer_breaks_the_public_api_contract(tmp_path: Path) -> None:
    """The contract as written in pyproject.toml, applied to a throwaway plugin package."""
    (contract,) = [c for c in _contracts() if c["id"] == "plugins-public-api"]
    package = tmp_path / "src" / "flowy_probe"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "public.py").write_text(
        textwrap.dedent(
            """
            import flowy
            from flowy.kernel.contracts import Executor
            from flowy.run import execute_attempt
            from flowy.testing import ExecutorContract
            from flowy.tracking import Client
            """
        )
    )
    (package / "private.py").write_text("from flowy.run.worker import execute_attempt\n")
    (package / "builtin.py").write_text("from flowy.builtin import plugin\n")
    forbidden = ", ".join(f'"{m}"' for m in contract["forbidden_modules"])
    (tmp_path / "contracts.toml").write_text(
        textwrap.dedent(
            f"""
            [tool.importlinter]
            root_packages = ["flowy", "flowy_probe"]

            [[tool.importlinter.contracts]]
            id = "probe"
            name = "probe"
            type = "forbidden"
            source_modules = ["flowy_probe"]
            forbidden_modules = [{forbidden}]
            allow_indirect_imports = {str(contract["allow_indirect_imports"]).lower()}
            """
        )
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "src")}
    done = _run("--config", str(tmp_path / "contracts.toml"), cwd=tmp_path, env=env)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "flowy_probe.private -> flowy.run.worker" in output, output
    assert "flowy_probe.builtin -> flowy.builtin" in output, output
    assert "flowy_probe.public" not in output, output
