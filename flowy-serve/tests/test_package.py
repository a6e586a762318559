"""``flowy model package``: the build context served from a fresh venv, without the store.

Docker is not available here, so the test does what the Dockerfile does: a new
virtual environment, ``pip install --find-links wheels -r requirements.txt``, then
``flowy model serve NAME --from-dir DIR`` in a folder that is not a project, with
the project's store moved away. Its answers must equal the store-backed server's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from serve_support import flowy_env, run_flowy, serving

ROWS = {"records": [{"x1": 0.3, "x2": -1.2, "region": "north"},
                    {"x1": -2.0, "x2": 1.5, "region": "east"}]}  # fmt: skip


def test_an_existing_folder_is_refused_and_nothing_is_written(trained: Any, tmp_path: Path) -> None:
    project, env = trained("sklearn", "churn")
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep.txt").write_text("mine")
    done = run_flowy(project, env, "model", "package", "churn", "--out", str(taken), code=1)
    assert "exists and is not empty" in done.stderr
    assert [p.name for p in taken.iterdir()] == ["keep.txt"]


@pytest.mark.slow
def test_the_package_serves_from_a_fresh_venv_without_the_store(
    trained: Any, tmp_path: Path
) -> None:
    project, env = trained("sklearn", "churn")
    out = tmp_path / "context"
    run_flowy(project, env, "model", "package", "churn", "--out", str(out), timeout=600)
    meta = json.loads((out / "flowy-model.json").read_text())
    assert meta["info"]["name"] == "churn" and meta["info"]["version"] == 1
    requirements = (out / "requirements.txt").read_text()
    assert "scikit-learn==" in requirements and "skops==" in requirements
    assert "flowy-serve==" in requirements and "fastapi==" in requirements
    assert (
        'CMD ["flowy", "model", "serve", "churn", "--from-dir", "/model"'
        in (out / "Dockerfile").read_text()
    )
    assert (out / meta["file"]).is_file()

    with serving(project, env, "churn:1") as server, server.client() as http:
        expected = http.post("/predict", json=ROWS).json()

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
         "--find-links", str(out / "wheels"), "-r", str(out / "requirements.txt")],
        check=True, timeout=1200,
    )  # fmt: skip
    (project / ".flowy").rename(project / ".flowy-moved")  # no store to fall back on
    try:
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        fresh = flowy_env(tmp_path / "fresh-home")
        fresh["PATH"] = f"{venv / 'bin'}{os.pathsep}{fresh['PATH']}"
        fresh.pop("PYTHONPATH", None)
        fresh.pop("VIRTUAL_ENV", None)
        with serving(
            elsewhere, fresh, "churn", "--from-dir", str(out), flowy=[str(venv / "bin" / "flowy")]
        ) as server, server.client() as http:  # fmt: skip
            answer = http.post("/predict", json=ROWS)
            served = http.get("/metadata").json()
    finally:
        (project / ".flowy-moved").rename(project / ".flowy")
    assert answer.status_code == 200, answer.text
    assert answer.json() == expected
    assert served["version"] == 1 and served["schema"]["columns"] == ["x1", "x2", "region"]


@pytest.mark.slow
def test_a_torch_module_is_packaged_with_the_module_that_defines_its_class(
    trained: Any, tmp_path: Path
) -> None:
    project, env = trained("pytorch", "regressor")
    out = tmp_path / "context"
    run_flowy(project, env, "model", "package", "regressor", "--out", str(out), timeout=600)
    meta = json.loads((out / "flowy-model.json").read_text())
    assert meta["code"] == ["pipeline.py"] and (out / "pipeline.py").is_file()
    assert "torch==" in (out / "requirements.txt").read_text()
    rows = {"inputs": [[0.1, 0.2, 0.3, 0.4], [1.0, -1.0, 0.5, 0.0]]}
    with serving(project, env, "regressor:1") as server, server.client() as http:
        expected = http.post("/predict", json=rows).json()
    (project / ".flowy").rename(project / ".flowy-moved")
    try:
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        with (
            serving(elsewhere, env, "regressor", "--from-dir", str(out)) as server,
            server.client() as http,
        ):
            answer = http.post("/predict", json=rows)
    finally:
        (project / ".flowy-moved").rename(project / ".flowy")
    assert answer.status_code == 200, answer.text
    assert answer.json() == expected
