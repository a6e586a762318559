"""The plugin's registrations, the `azure` stack, and `flowy azure check` against Azurite."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flowy.kernel.errors import ConfigError


def test_registrations(azure_plugins: Any) -> None:
    registry = azure_plugins.registry
    store = registry.get("artifact_store", "azure_blob")
    assert store.target == "flowy_azure.blob_store:AzureBlobArtifactStore"
    assert registry.get("executor", "azureml").distribution == "flowy-azure"
    assert registry.stacks["azure"].required_options == {
        "artifact_store": ["account_name", "container"],
        "executor": [
            "subscription_id",
            "resource_group",
            "workspace",
            "compute",
            "aml_environment",
        ],
    }
    assert registry.commands["azure"].target == "flowy_azure.cli:azure"


def test_plugin_module_imports_nothing_heavy() -> None:
    heavy = ("adlfs", "azure", "aiohttp", "fsspec", "click")
    code = (
        f"import sys, flowy_azure.plugin; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_azure_stack_reports_missing_options(azure_plugins: Any, project: Path) -> None:
    from flowy.stacks.definitions import get_stack
    from flowy.stacks.resolution import check_stack

    defn = get_stack("azure", azure_plugins, project)
    assert defn.components["executor"]["type"] == "azureml"
    assert defn.components["metadata_store"]["type"] == "sql"
    with pytest.raises(ConfigError, match=r"needs artifact_store option.*account_name") as info:
        check_stack(defn, azure_plugins, project)
    assert "--artifact-store-option account_name=VALUE" in str(info.value)


def test_azure_stack_with_its_options_checks(azure_plugins: Any, project: Path) -> None:
    import attrs
    from flowy.stacks.definitions import get_stack
    from flowy.stacks.resolution import check_stack

    defn = get_stack("azure", azure_plugins, project)
    components = {k: dict(v) for k, v in defn.components.items()}
    components["artifact_store"].update(account_name="myaccount", container="artifacts")
    components["executor"].update(
        subscription_id="00000000-0000-0000-0000-000000000000",
        resource_group="ml",
        workspace="ml-ws",
        compute="cpu-cluster",
        aml_environment="azureml:flowy:1",
    )
    broken = {**components, "executor": {"type": "azureml", "workspace": "ml-ws"}}
    with pytest.raises(ConfigError, match=r"needs executor option.*subscription_id"):
        check_stack(attrs.evolve(defn, components=broken), azure_plugins, project)
    bad_env = {**components, "executor": {**components["executor"], "aml_environment": "flowy"}}
    with pytest.raises(ConfigError, match="azureml:NAME:VERSION"):
        check_stack(attrs.evolve(defn, components=bad_env), azure_plugins, project)
    checked = check_stack(attrs.evolve(defn, components=components), azure_plugins, project)
    assert checked["artifact_store"].options["container"] == "artifacts"


def run_check(*args: str) -> Any:
    from flowy_azure.cli import azure

    result = CliRunner().invoke(azure, ["check", *args, "--json"])
    return result, {c["check"]: c for c in json.loads(result.output)}


@pytest.mark.slow
def test_check_passes_against_azurite(azurite: Any, container: str) -> None:
    result, checks = run_check(
        "--account-name", azurite.account, "--container", container,
        "--endpoint-url", azurite.endpoint, "--timeout", "2",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    for name in ("endpoint", "credentials", "container"):
        assert checks[name]["status"] == "pass", checks[name]
    assert "AZURE_STORAGE_ACCOUNT_KEY" in checks["credentials"]["detail"]
    assert checks["azure ml workspace"]["status"] == "skip"


@pytest.mark.slow
def test_check_reports_a_missing_container(azurite: Any) -> None:
    result, checks = run_check(
        "--account-name", azurite.account, "--container", "no-such-container",
        "--endpoint-url", azurite.endpoint, "--timeout", "2",
    )  # fmt: skip
    assert result.exit_code == 1
    assert checks["container"]["status"] == "fail"
    assert "does not exist" in checks["container"]["detail"]
    assert "az storage container create" in checks["container"]["fix"]


@pytest.mark.slow
def test_check_reports_a_wrong_key_under_credentials(
    azurite: Any, container: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_KEY", base64.b64encode(b"wrong" * 12).decode())
    result, checks = run_check(
        "--account-name", azurite.account, "--container", container,
        "--endpoint-url", azurite.endpoint, "--timeout", "2",
    )  # fmt: skip
    assert result.exit_code == 1
    assert checks["credentials"]["status"] == "fail"
    assert "rejected the credentials" in checks["credentials"]["detail"]
    assert "not been rotated" in checks["credentials"]["fix"]
    assert "container" not in checks  # reported once, where the problem is


def test_check_reports_an_endpoint_that_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_KEY", base64.b64encode(b"k" * 64).decode())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    result, checks = run_check(
        "--account-name", "devstoreaccount1", "--container", "box",
        "--endpoint-url", f"http://127.0.0.1:{port}/devstoreaccount1", "--timeout", "1",
    )  # fmt: skip
    assert result.exit_code == 1
    assert (
        checks["endpoint"]["status"] == "fail" and "did not answer" in checks["endpoint"]["detail"]
    )
    assert "`endpoint_url`" in checks["endpoint"]["fix"]
    assert checks["container"]["status"] == "skip"


def test_check_of_a_workspace_without_azure_ad(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Starting Azure ML jobs needs Azure AD; without it the check says how to sign in."""
    for name in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AZURE_CONFIG_DIR", str(tmp_path / "no-az-login"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    from flowy_azure.check import FAIL, Settings, check_workspace

    checks = check_workspace(
        Settings(
            subscription_id="sub",
            resource_group="rg",
            workspace="ml-ws",
            management_endpoint=f"http://127.0.0.1:{port}",
            timeout=1,
        )
    )
    assert checks[0].name == "azure ml workspace" and checks[0].status == FAIL
    if "no Azure AD token" not in checks[0].detail:  # pragma: no cover
        pytest.skip("an Azure AD identity is available here (managed identity or az login)")
    assert "az login" in checks[0].fix and "AzureML Data Scientist" in checks[0].fix


@pytest.mark.slow
def test_check_reads_the_stack(azurite: Any, container: str, project: Path) -> None:
    import tomli_w

    stacks = project / ".flowy" / "stacks"
    stacks.mkdir()
    (stacks / "azure.toml").write_text(
        tomli_w.dumps(
            {
                "executor": {"type": "azureml", "mode": "local"},
                "artifact_store": {
                    "type": "azure_blob",
                    "account_name": azurite.account,
                    "container": container,
                    "endpoint_url": azurite.endpoint,
                    "prefix": "team",
                },
                "metadata_store": {"type": "sql", "url": f"sqlite:///{project}/.flowy/m.db"},
            }
        )
    )
    result, checks = run_check("--stack", "azure", "--timeout", "2")
    assert result.exit_code == 0, result.output
    assert f"az://{container}/team" in checks["container"]["detail"]
