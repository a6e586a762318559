"""Acceptance: a fresh virtual environment, `flowy stack switch aws`, the example pipeline on moto.

Only the distributions a user installs go into the venv (flowy-core,
flowy-store-sqlite for the aws stack's SQL metadata store, flowy-cli,
flowy-aws, and flowy-materializers because the example passes NumPy
arrays); moto runs in this test process, outside the venv.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ["flowy-core", "flowy-store-sqlite", "flowy-materializers", "flowy-cli", "flowy-aws"]


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([sys.executable, "-m", "venv", str(root)], check=True)
    pip = [str(root / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, *(str(REPO / p) for p in PACKAGES)], check=True, timeout=900)
    return root


@pytest.mark.slow
def test_aws_stack_in_a_fresh_venv(
    venv: Path, tmp_path: Path, moto_endpoint: str, bucket: str, s3_client: Any
) -> None:
    project = tmp_path / "project"
    (project / ".flowy").mkdir(parents=True)
    env = {
        **os.environ,
        "FLOWY_HOME": str(tmp_path / "home"),
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
    }
    env.pop("FLOWY_PROJECT", None)
    env.pop("VIRTUAL_ENV", None)
    flowy = str(venv / "bin" / "flowy")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [flowy, *args],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    missing = run("stack", "switch", "aws")
    assert missing.returncode != 0 and "bucket" in missing.stdout + missing.stderr

    options = {
        "--artifact-store-option": [
            f"bucket={bucket}",
            f"endpoint_url={moto_endpoint}",
            "region=us-east-1",
            "prefix=team",
        ],
        "--executor-option": [
            "mode=local",
            "role=arn:aws:iam::123456789012:role/flowy",
            "image=unused-in-local-mode",
            "poll_interval=0.1",
        ],
    }
    args = [
        flag_value for flag, values in options.items() for v in values for flag_value in (flag, v)
    ]
    updated = run("stack", "update", "aws", *args)
    assert updated.returncode == 0, updated.stdout + updated.stderr
    switched = run("stack", "switch", "aws")
    assert switched.returncode == 0, switched.stdout + switched.stderr

    # The example is copied into the project: `flowy run FILE` uses the project
    # that holds FILE, and the checkout may hold one of its own (the README's
    # first command makes it).
    example = project / "pipeline.py"
    example.write_text((REPO / "examples" / "quickstart" / "pipeline.py").read_text())
    ran = run("run", str(example))
    assert ran.returncode == 0, ran.stdout + ran.stderr

    keys = [o["Key"] for o in s3_client.list_objects_v2(Bucket=bucket)["Contents"]]
    assert any(k.startswith("team/") and k.endswith(".npy") for k in keys), keys
    results = [k for k in keys if k.endswith("/result.json")]
    assert len(results) >= 4  # every step went through the entrypoint
    body = s3_client.get_object(Bucket=bucket, Key=results[0])["Body"].read()
    assert json.loads(body)["status"] == "completed"
    checked = run("aws", "check", "--json", "--timeout", "2")
    statuses = {c["check"]: c["status"] for c in json.loads(checked.stdout)}
    assert statuses["bucket"] == "pass" and statuses["credentials"] == "pass", checked.stdout
