"""`pip install flowy-core flowy-aws` from wheels gives a working `flowy` command (slow).

The way Flowy promises to be used: a user installs the core and a plugin from
a package index and types `flowy stack switch aws`. This test builds a wheel
of every distribution in this checkout (`pip wheel --no-deps`) into a
wheelhouse, which stands in for the index for Flowy's own distributions
(third-party dependencies still come from the real index), installs only
``flowy-core flowy-aws`` into a fresh virtual environment and drives the
`flowy` that install put on its PATH. flowy-core depends on flowy-cli for
exactly this (README.md, "Switch stacks"; docs/plugins.md, "Publishing").
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
DISTRIBUTIONS = sorted(p.parent.name for p in ROOT.glob("flowy-*/pyproject.toml"))


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    house = tmp_path_factory.mktemp("wheelhouse")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check",
         "--no-deps", "--wheel-dir", str(house), *(str(ROOT / d) for d in DISTRIBUTIONS)],
        check=True, timeout=900,
    )  # fmt: skip
    return house


def test_core_and_one_plugin_from_wheels_give_a_working_flowy(
    wheelhouse: Path, tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWY_", "PYTHON"))}
    env.pop("VIRTUAL_ENV", None)
    env.update(FLOWY_HOME=str(tmp_path / "home"), COLUMNS="200")
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
         "--disable-pip-version-check", "--find-links", str(wheelhouse),
         "flowy-core", "flowy-aws"],
        check=True, timeout=900, env=env,
    )  # fmt: skip
    flowy = venv / "bin" / "flowy"
    assert flowy.is_file(), "installing flowy-core and flowy-aws put no `flowy` on the PATH"
    project = tmp_path / "project"
    (project / ".flowy").mkdir(parents=True)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(flowy), *args], cwd=project, env=env, capture_output=True, text=True,
            timeout=300, check=False,
        )  # fmt: skip

    listed = run("stack", "list", "--json")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert "aws" in {s["name"] for s in json.loads(listed.stdout)}, listed.stdout

    # The real check runs: the aws stack needs a bucket before it can be active.
    missing = run("stack", "switch", "aws")
    assert missing.returncode == 1 and "bucket" in missing.stderr, missing.stdout + missing.stderr
    assert "Traceback" not in missing.stderr
    updated = run(
        "stack", "update", "aws",
        "--artifact-store-option", "bucket=my-bucket",
        "--artifact-store-option", "region=us-east-1",
        "--executor-option", "role=arn:aws:iam::123456789012:role/flowy",
        "--executor-option", "image=123456789012.dkr.ecr.us-east-1.amazonaws.com/flowy:1",
    )  # fmt: skip
    assert updated.returncode == 0, updated.stdout + updated.stderr
    switched = run("stack", "switch", "aws")
    assert switched.returncode == 0, switched.stdout + switched.stderr
    assert "Active stack is now aws" in switched.stdout
