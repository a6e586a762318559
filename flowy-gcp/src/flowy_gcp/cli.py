"""The ``flowy gcp`` command group (registered through ``flowy_register_commands``).

Imported only when ``flowy gcp ...`` runs, by flowy-cli, which brings click.
"""

from __future__ import annotations

import sys
from typing import Any

import click
from flowy.kernel.checks import show_checks

from flowy_gcp.check import Settings, run_checks


@click.group("gcp")
def gcp() -> None:
    """Check Google Cloud credentials, the bucket and the Vertex AI region."""


def _from_stack(name: str | None) -> dict[str, Any]:
    """Options of the stack's gcs store and vertex executor (env references expanded)."""
    from flowy.stacks import stack_settings

    return stack_settings(
        name,
        ("artifact_store", "executor"),
        ("bucket", "prefix", "project", "region", "endpoint_url", "anonymous"),
    )


@gcp.command("check")
@click.option("--stack", "stack", help="Take bucket, project, region and endpoint from this stack.")
@click.option("--bucket", help="The artifact bucket.")
@click.option("--prefix", default=None, help="Object-name prefix in the bucket.")
@click.option("--project", help="The Google Cloud project the jobs run in.")
@click.option("--region", help="The Vertex AI region (us-central1, europe-west4...).")
@click.option("--endpoint-url", help="Another Cloud Storage endpoint (an emulator).")
@click.option("--anonymous", is_flag=True, default=None, help="Send no credentials (emulator).")
@click.option("--timeout", default=5.0, show_default=True, help="Seconds per call (one retry).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def check(  # noqa: PLR0917 - one parameter per click option
    stack: str | None,
    bucket: str | None,
    prefix: str | None,
    project: str | None,
    region: str | None,
    endpoint_url: str | None,
    anonymous: bool | None,
    timeout: float,
    as_json: bool,
) -> None:
    """Verify credentials, bucket access and the region; each check says how to fix it.

    Without options it checks the active stack's bucket, project and region.
    """
    base = _from_stack(stack) if stack or not (bucket or region) else {}
    settings = Settings(
        bucket=bucket or base.get("bucket"),
        prefix=prefix if prefix is not None else str(base.get("prefix", "")),
        project=project or base.get("project"),
        region=region or base.get("region"),
        endpoint_url=endpoint_url or base.get("endpoint_url"),
        anonymous=bool(anonymous if anonymous is not None else base.get("anonymous", False)),
        timeout=timeout,
    )
    sys.exit(show_checks(run_checks(settings), as_json))
