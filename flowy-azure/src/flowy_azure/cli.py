"""The ``flowy azure`` command group (registered through ``flowy_register_commands``).

Imported only when ``flowy azure ...`` runs, by flowy-cli, which brings click.
"""

from __future__ import annotations

import sys
from typing import Any

import click
from flowy.kernel.checks import show_checks

from flowy_azure.check import Settings, run_checks

_KEYS = (
    "account_name",
    "container",
    "prefix",
    "endpoint_url",
    "subscription_id",
    "resource_group",
    "workspace",
    "compute",
    "management_endpoint",
)


@click.group("azure")
def azure() -> None:
    """Check Azure credentials, the blob container and the Azure ML workspace."""


def _from_stack(name: str | None) -> dict[str, Any]:
    """Options of the stack's azure_blob store and azureml executor (env references expanded)."""
    from flowy.stacks import stack_settings

    return stack_settings(name, ("artifact_store", "executor"), _KEYS)


@azure.command("check")
@click.option("--stack", "stack", help="Take account, container and workspace from this stack.")
@click.option("--account-name", help="The storage account.")
@click.option("--container", help="The artifact container.")
@click.option("--prefix", default=None, help="Blob-name prefix in the container.")
@click.option("--endpoint-url", help="A non-default blob endpoint (Azurite, sovereign cloud).")
@click.option("--subscription-id", help="The Azure ML workspace's subscription.")
@click.option("--resource-group", help="The Azure ML workspace's resource group.")
@click.option("--workspace", help="The Azure ML workspace.")
@click.option("--compute", help="The compute target jobs run on.")
@click.option("--timeout", default=5.0, show_default=True, help="Seconds per call (one retry).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def check(  # noqa: PLR0917 - one parameter per click option
    stack: str | None,
    account_name: str | None,
    container: str | None,
    prefix: str | None,
    endpoint_url: str | None,
    subscription_id: str | None,
    resource_group: str | None,
    workspace: str | None,
    compute: str | None,
    timeout: float,
    as_json: bool,
) -> None:
    """Verify the endpoint, credentials, container access and the Azure ML workspace.

    Each check says how to fix what fails. Without options it checks the active
    stack's azure_blob store and azureml executor. Credentials come from the
    environment (AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_ACCOUNT_KEY,
    AZURE_STORAGE_SAS_TOKEN, or Azure AD through `az login` or a managed identity).
    """
    import logging

    # azure.identity logs every credential it tried at WARNING; the checks report it once.
    logging.getLogger("azure.identity").setLevel(logging.ERROR)
    given = account_name or container or workspace
    base = _from_stack(stack) if stack or not given else {}
    settings = Settings(
        account_name=account_name or base.get("account_name"),
        container=container or base.get("container"),
        prefix=prefix if prefix is not None else str(base.get("prefix", "")),
        endpoint_url=endpoint_url or base.get("endpoint_url"),
        subscription_id=subscription_id or base.get("subscription_id"),
        resource_group=resource_group or base.get("resource_group"),
        workspace=workspace or base.get("workspace"),
        compute=compute or base.get("compute"),
        management_endpoint=base.get("management_endpoint"),
        timeout=timeout,
    )
    sys.exit(show_checks(run_checks(settings), as_json))
