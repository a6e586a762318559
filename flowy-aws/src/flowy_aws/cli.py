"""The ``flowy aws`` command group (registered through ``flowy_register_commands``).

Imported only when ``flowy aws ...`` runs, by flowy-cli, which brings click.
"""

from __future__ import annotations

import sys
from typing import Any

import click
from flowy.kernel.checks import show_checks

from flowy_aws.check import Settings, run_checks


@click.group("aws")
def aws() -> None:
    """Check AWS credentials, the bucket and the SageMaker execution role."""


def _from_stack(name: str | None) -> dict[str, Any]:
    """Options of the stack's s3 store and sagemaker executor (env references expanded)."""
    from flowy.stacks import stack_settings

    return stack_settings(
        name, ("artifact_store", "executor"), ("bucket", "prefix", "region", "endpoint_url", "role")
    )


@aws.command("check")
@click.option("--stack", "stack", help="Take bucket, role, region and endpoint from this stack.")
@click.option("--bucket", help="The artifact bucket.")
@click.option("--prefix", default=None, help="Key prefix in the bucket.")
@click.option("--role", help="The SageMaker execution role ARN.")
@click.option("--region", help="The AWS region.")
@click.option("--endpoint-url", help="A non-AWS endpoint (emulator, S3-compatible store).")
@click.option("--timeout", default=5.0, show_default=True, help="Seconds per call (one retry).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def check(  # noqa: PLR0917 - one parameter per click option
    stack: str | None,
    bucket: str | None,
    prefix: str | None,
    role: str | None,
    region: str | None,
    endpoint_url: str | None,
    timeout: float,
    as_json: bool,
) -> None:
    """Verify credentials, bucket access and the execution role; each check says how to fix it.

    Without options it checks the active stack's bucket and role.
    """
    base = _from_stack(stack) if stack or not (bucket or role) else {}
    settings = Settings(
        bucket=bucket or base.get("bucket"),
        prefix=prefix if prefix is not None else str(base.get("prefix", "")),
        role=role or base.get("role"),
        region=region or base.get("region"),
        endpoint_url=endpoint_url or base.get("endpoint_url"),
        timeout=timeout,
    )
    sys.exit(show_checks(run_checks(settings), as_json))
