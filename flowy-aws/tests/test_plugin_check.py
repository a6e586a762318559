"""The plugin's registrations, the `aws` stack, and `flowy aws check` against moto."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flowy.kernel.errors import ComponentNotFoundError, ConfigError

ROLE_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sagemaker.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def test_registrations(aws_plugins: Any) -> None:
    registry = aws_plugins.registry
    assert registry.get("artifact_store", "s3").target == "flowy_aws.s3_store:S3ArtifactStore"
    assert registry.get("executor", "sagemaker").distribution == "flowy-aws"
    assert registry.stacks["aws"].required_options == {
        "artifact_store": ["bucket"],
        "executor": ["role", "image"],
    }
    assert registry.commands["aws"].target == "flowy_aws.cli:aws"


def test_plugin_module_imports_nothing_heavy() -> None:
    code = (
        "import sys, flowy_aws.plugin; "
        "print(sorted(m for m in ('boto3', 's3fs', 'botocore', 'aiohttp') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_aws_stack_reports_missing_options(aws_plugins: Any, project: Path) -> None:
    from flowy.stacks.definitions import get_stack
    from flowy.stacks.resolution import check_stack

    defn = get_stack("aws", aws_plugins, project)
    assert defn.components["executor"]["type"] == "sagemaker"
    assert defn.components["metadata_store"]["type"] == "sql"
    with pytest.raises(ConfigError, match=r"needs artifact_store option.*bucket") as info:
        check_stack(defn, aws_plugins, project)
    assert "--artifact-store-option bucket=VALUE" in str(info.value)


def test_aws_stack_with_its_options_checks(aws_plugins: Any, project: Path) -> None:
    import attrs
    from flowy.stacks.definitions import get_stack
    from flowy.stacks.resolution import check_stack

    defn = get_stack("aws", aws_plugins, project)
    components = {k: dict(v) for k, v in defn.components.items()}
    components["artifact_store"]["bucket"] = "my-bucket"
    components["executor"].update(role="arn:aws:iam::123456789012:role/r", image="img:1")
    with pytest.raises(ConfigError, match=r"needs executor option.*image"):
        broken = {**components, "executor": {"type": "sagemaker", "role": "x"}}
        check_stack(attrs.evolve(defn, components=broken), aws_plugins, project)
    checked = check_stack(attrs.evolve(defn, components=components), aws_plugins, project)
    assert checked["artifact_store"].options["bucket"] == "my-bucket"


def test_without_flowy_aws_the_stack_names_its_distribution(project: Path) -> None:
    code = (
        "from flowy.kernel.plugins import create_plugin_manager\n"
        "from flowy.stacks.definitions import get_stack\n"
        "try:\n    get_stack('aws', create_plugin_manager())\n"
        "except Exception as e:\n    print(type(e).__name__, e)\n"
    )
    env = {**os.environ, "FLOWY_DISABLE_PLUGINS": "flowy-aws"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        cwd=project,
    )
    assert "ComponentNotFoundError" in out.stdout
    assert "flowy-aws" in out.stdout and "pip install flowy-aws" in out.stdout
    env.pop("FLOWY_DISABLE_PLUGINS")
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        cwd=project,
    )
    assert out.stdout == ""  # with the plugin installed the stack exists
    assert ComponentNotFoundError  # (imported for the reader: the class the core raises)


@pytest.fixture
def role(moto_endpoint: str) -> str:
    import boto3

    iam = boto3.client("iam", endpoint_url=moto_endpoint, region_name="us-east-1")
    try:
        return str(
            iam.create_role(RoleName="flowy-jobs", AssumeRolePolicyDocument=ROLE_TRUST)["Role"][
                "Arn"
            ]
        )
    except iam.exceptions.EntityAlreadyExistsException:
        return str(iam.get_role(RoleName="flowy-jobs")["Role"]["Arn"])


def run_check(*args: str) -> Any:
    from flowy_aws.cli import aws

    return CliRunner().invoke(aws, ["check", *args, "--json"])


def test_check_passes_against_moto(moto_endpoint: str, bucket: str, role: str) -> None:
    result = run_check(
        "--bucket",
        bucket,
        "--role",
        role,
        "--region",
        "us-east-1",
        "--endpoint-url",
        moto_endpoint,
        "--timeout",
        "2",
    )
    checks = {c["check"]: c for c in json.loads(result.output)}
    assert result.exit_code == 0, result.output
    for name in ("region", "credentials", "bucket", "execution role", "sagemaker api"):
        assert checks[name]["status"] == "pass", checks[name]
    assert checks["multipart cleanup"]["status"] == "warn"
    assert "AbortIncompleteMultipartUpload" in checks["multipart cleanup"]["fix"]


def test_check_reports_a_missing_bucket_and_role(moto_endpoint: str) -> None:
    result = run_check(
        "--bucket",
        "no-such-bucket",
        "--role",
        "arn:aws:iam::123456789012:role/missing",
        "--region",
        "us-east-1",
        "--endpoint-url",
        moto_endpoint,
        "--timeout",
        "2",
    )
    checks = {c["check"]: c for c in json.loads(result.output)}
    assert result.exit_code == 1
    assert checks["bucket"]["status"] == "fail" and "does not exist" in checks["bucket"]["detail"]
    assert "aws s3 mb" in checks["bucket"]["fix"]
    assert checks["execution role"]["status"] == "fail"


def test_check_without_credentials(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    result = run_check("--bucket", "b", "--region", "us-east-1", "--endpoint-url", moto_endpoint)
    checks = {c["check"]: c for c in json.loads(result.output)}
    assert result.exit_code == 1
    assert checks["credentials"]["status"] == "fail"
    assert "AWS_PROFILE" in checks["credentials"]["fix"]
    assert "bucket" not in checks  # later checks need credentials


def test_check_reads_the_stack(
    moto_endpoint: str, bucket: str, role: str, project: Path, store_options: dict[str, Any]
) -> None:
    import tomli_w

    stacks = project / ".flowy" / "stacks"
    stacks.mkdir()
    (stacks / "aws.toml").write_text(
        tomli_w.dumps(
            {
                "executor": {"type": "sagemaker", "role": role, "image": "img:1", "mode": "local"},
                "artifact_store": {"type": "s3", **store_options},
                "metadata_store": {"type": "sql", "url": f"sqlite:///{project}/.flowy/m.db"},
            }
        )
    )
    result = run_check("--stack", "aws", "--timeout", "2")
    checks = {c["check"]: c for c in json.loads(result.output)}
    assert result.exit_code == 0, result.output
    assert bucket in checks["bucket"]["detail"] and role in checks["execution role"]["detail"]
