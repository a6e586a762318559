"""The plugin's registrations, the `gcp` stack, and `flowy gcp check` against the emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flowy.kernel.errors import ConfigError

pytestmark = pytest.mark.slow


def test_registrations(gcp_plugins: Any) -> None:
    registry = gcp_plugins.registry
    assert registry.get("artifact_store", "gcs").target == "flowy_gcp.gcs_store:GcsArtifactStore"
    assert registry.get("executor", "vertex").distribution == "flowy-gcp"
    assert registry.stacks["gcp"].required_options == {
        "artifact_store": ["bucket"],
        "executor": ["project", "region", "image"],
    }
    assert registry.commands["gcp"].target == "flowy_gcp.cli:gcp"


def test_plugin_module_imports_nothing_heavy() -> None:
    code = (
        "import sys, flowy_gcp.plugin; print(sorted(m for m in "
        "('gcsfs', 'google.auth', 'aiohttp', 'requests', 'fsspec') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_gcp_stack_reports_missing_options(gcp_plugins: Any, project: Path) -> None:
    from flowy.stacks.definitions import get_stack
    from flowy.stacks.resolution import check_stack

    defn = get_stack("gcp", gcp_plugins, project)
    assert defn.components["executor"]["type"] == "vertex"
    assert defn.components["metadata_store"]["type"] == "sql"
    with pytest.raises(ConfigError, match=r"needs artifact_store option.*bucket") as info:
        check_stack(defn, gcp_plugins, project)
    assert "--artifact-store-option bucket=VALUE" in str(info.value)


def test_gcp_stack_with_its_options_checks(gcp_plugins: Any, project: Path) -> None:
    import attrs
    from flowy.stacks.definitions import get_stack
    from flowy.stacks.resolution import check_stack

    defn = get_stack("gcp", gcp_plugins, project)
    components = {k: dict(v) for k, v in defn.components.items()}
    components["artifact_store"].update(bucket="my-bucket", check_bucket=False)
    components["executor"].update(project="flowy-test", region="us-central1", image="img:1")
    with pytest.raises(ConfigError, match=r"needs executor option.*image"):
        broken = {**components, "executor": {"type": "vertex", "project": "flowy-test"}}
        check_stack(attrs.evolve(defn, components=broken), gcp_plugins, project)
    checked = check_stack(attrs.evolve(defn, components=components), gcp_plugins, project)
    assert checked["artifact_store"].options["bucket"] == "my-bucket"


def test_without_flowy_gcp_the_stack_names_its_distribution(project: Path) -> None:
    code = (
        "from flowy.kernel.plugins import create_plugin_manager\n"
        "from flowy.stacks.definitions import get_stack\n"
        "try:\n    get_stack('gcp', create_plugin_manager())\n"
        "except Exception as e:\n    print(type(e).__name__, e)\n"
    )
    env = {**os.environ, "FLOWY_DISABLE_PLUGINS": "flowy-gcp"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True,
        cwd=project,
    )  # fmt: skip
    assert "ComponentNotFoundError" in out.stdout and "'gcp'" in out.stdout
    from flowy.kernel.registry import KNOWN_PROVIDERS

    if ("stack", "gcp") in KNOWN_PROVIDERS:  # the install hint (core's table of providers)
        assert "pip install flowy-gcp" in out.stdout


def run_check(*args: str) -> Any:
    from flowy_gcp.cli import gcp

    return CliRunner().invoke(gcp, ["check", *args, "--json"])


def test_check_passes_against_the_emulator(gcs_endpoint: str, bucket: str) -> None:
    result = run_check(
        "--bucket", bucket, "--region", "europe-west4", "--endpoint-url", gcs_endpoint,
        "--anonymous", "--timeout", "2",
    )  # fmt: skip
    checks = {c["check"]: c for c in json.loads(result.stdout)}
    assert result.exit_code == 0, result.output
    assert checks["credentials"]["status"] == "warn"  # anonymous
    assert checks["bucket"]["status"] in ("pass", "warn"), checks["bucket"]
    assert f"gs://{bucket}/ read/write" in checks["bucket"]["detail"]
    assert checks["region"]["status"] == "pass"
    assert checks["vertex api"]["status"] == "skip"


def test_check_reports_a_missing_bucket_and_a_wrong_region(gcs_endpoint: str) -> None:
    result = run_check(
        "--bucket", "no-such-bucket", "--region", "europe-west99", "--endpoint-url",
        gcs_endpoint, "--anonymous", "--timeout", "2",
    )  # fmt: skip
    checks = {c["check"]: c for c in json.loads(result.stdout)}
    assert result.exit_code == 1
    assert checks["bucket"]["status"] == "fail"
    assert "does not exist" in checks["bucket"]["detail"]
    assert "gcloud storage buckets create gs://no-such-bucket" in checks["bucket"]["detail"]
    assert checks["region"]["status"] == "fail"
    assert "europe-west4" in checks["region"]["detail"]  # the regions there


def test_check_with_the_endpoint_down(bucket: str) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = run_check(
        "--bucket", bucket, "--region", "us-central1", "--endpoint-url",
        f"http://127.0.0.1:{port}", "--anonymous", "--timeout", "1",
    )  # fmt: skip
    checks = {c["check"]: c for c in json.loads(result.stdout)}
    assert result.exit_code == 1
    assert "did not answer" in checks["bucket"]["detail"]


def test_check_without_credentials(
    gcs_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "none.json"))
    result = run_check(
        "--bucket", "b-b-b", "--region", "us-central1", "--endpoint-url", gcs_endpoint
    )
    checks = {c["check"]: c for c in json.loads(result.stdout)}
    assert result.exit_code == 1
    assert checks["credentials"]["status"] == "fail"
    assert "GOOGLE_APPLICATION_CREDENTIALS" in checks["credentials"]["fix"]
    assert "bucket" not in checks  # it would fail for the same reason
    assert checks["region"]["status"] == "pass"


def test_check_reads_the_stack(project: Path, store_options: dict[str, Any], bucket: str) -> None:
    import tomli_w

    stacks = project / ".flowy" / "stacks"
    stacks.mkdir()
    (stacks / "gcp.toml").write_text(
        tomli_w.dumps(
            {
                "executor": {
                    "type": "vertex",
                    "mode": "local",
                    "project": "flowy-test",
                    "region": "europe-west4",
                },
                "artifact_store": {"type": "gcs", **store_options},
                "metadata_store": {"type": "sql", "url": f"sqlite:///{project}/.flowy/m.db"},
            }
        )
    )
    result = run_check("--stack", "gcp", "--timeout", "2")
    checks = {c["check"]: c for c in json.loads(result.stdout)}
    assert result.exit_code == 0, result.output
    assert bucket in checks["bucket"]["detail"] and "artifacts" in checks["bucket"]["detail"]
    assert checks["region"]["detail"].startswith("europe-west4")
    assert checks["project"] == {
        "check": "project",
        "status": "pass",
        "detail": "flowy-test",
        "fix": "",
    }


def test_human_output_names_the_fix(gcs_endpoint: str) -> None:
    from flowy_gcp.cli import gcp

    result = CliRunner().invoke(
        gcp,
        ["check", "--bucket", "no-such-bucket", "--region", "mars-north1", "--endpoint-url",
         gcs_endpoint, "--anonymous", "--timeout", "2"],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "FAIL  bucket:" in result.output and "FAIL  region:" in result.output
    assert "fix: set the executor's `region`" in result.output
