"""``flowy azure check``: is this account ready for the ``azure`` stack?

Each check makes the smallest real call that proves one thing, and reports
pass, fail, warn or skip with the fix: the blob endpoint answers, the
credentials are found and accepted, the container can be written, read and
cleaned, and (when a workspace is named) the Azure ML workspace and compute
target exist. Every call has bounded timeouts and at most one retry, so the
whole check ends in seconds even when an endpoint is silent. Kept apart from
the click command so tests and the Python API can call it.
"""

from __future__ import annotations

import secrets
import socket
from typing import Any
from urllib.parse import urlparse

import attrs
from flowy.kernel.checks import FAIL, PASS, SKIP, WARN, Check

from flowy_azure.errors import (
    CREDENTIALS_FIX,
    AzureConnectionError,
    AzureContainerError,
    AzureCredentialsError,
    AzureError,
)


@attrs.define
class Settings:
    account_name: str | None = None
    container: str | None = None
    prefix: str = ""
    endpoint_url: str | None = None
    subscription_id: str | None = None
    resource_group: str | None = None
    workspace: str | None = None
    compute: str | None = None
    management_endpoint: str | None = None
    timeout: float = 5.0


def _split(message: str) -> tuple[str, str]:
    """An error's message as (what failed, how to fix it), split at its first sentence."""
    head, sep, rest = message.partition(". ")
    return (head, rest) if sep else (message, "")


def check_endpoint(s: Settings) -> Check:
    from flowy_azure.credentials import default_endpoint, resolve

    if not (s.account_name or s.endpoint_url):
        return Check("endpoint", SKIP, "no account or endpoint given", "pass --account-name")
    try:
        credential = resolve(s.account_name or "")
    except AzureError:
        credential = None
    endpoint = (
        s.endpoint_url
        or (credential.endpoint if credential else None)
        or default_endpoint(s.account_name or "")
    )
    url = urlparse(endpoint)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname or "", port), timeout=s.timeout):
            pass
    except OSError as exc:
        return Check(
            "endpoint",
            FAIL,
            f"{endpoint} did not answer within {s.timeout:g} s ({type(exc).__name__}: {exc})",
            "check the network, the stack's `endpoint_url` and `account_name` (Azurite listens "
            "on http://127.0.0.1:10000/devstoreaccount1 by default)",
        )
    return Check("endpoint", PASS, endpoint)


def check_credentials(s: Settings) -> Check:
    """Where credentials come from; Azure AD ones must yield a storage token."""
    from flowy_azure.credentials import is_token, resolve

    try:
        credential = resolve(s.account_name or "")
    except AzureError as exc:
        detail, fix = _split(str(exc))
        return Check("credentials", FAIL, detail, fix or CREDENTIALS_FIX)
    if not is_token(credential):
        return Check("credentials", PASS, f"{credential.source} (checked with the container)")
    import asyncio

    async def token() -> None:
        async with credential.value:
            await asyncio.wait_for(
                credential.value.get_token("https://storage.azure.com/.default"),
                timeout=max(s.timeout, 10.0),
            )

    try:
        asyncio.run(token())
    except Exception as exc:  # noqa: BLE001 - reported
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return Check("credentials", FAIL, f"no usable Azure credentials: {first}", CREDENTIALS_FIX)
    return Check("credentials", PASS, f"{credential.source}: a storage token was issued")


def check_container(s: Settings) -> list[Check]:
    """Write, read and delete a probe blob; a failure is filed under what it is about."""
    from flowy_azure.blob_store import AzureBlobArtifactStore

    if not (s.account_name and s.container):
        return [
            Check(
                "container",
                SKIP,
                "no account or container given",
                "pass --account-name and --container, or use a stack with an azure_blob store",
            )
        ]
    try:
        store = AzureBlobArtifactStore(
            account_name=s.account_name,
            container=s.container,
            prefix=s.prefix,
            endpoint_url=s.endpoint_url,
            connect_timeout=s.timeout,
            read_timeout=s.timeout,
            retries=1,
        )
        uri = store.uri_for(f".flowy-check-{secrets.token_hex(6)}")
        store.write_bytes(uri, b"flowy azure check")
        ok = store.read_bytes(uri) == b"flowy azure check"
        store.delete(uri)
    except Exception as exc:  # noqa: BLE001 - reported
        names: dict[type[BaseException], str] = {
            AzureCredentialsError: "credentials",
            AzureConnectionError: "endpoint",
            AzureContainerError: "container",
        }
        name = names.get(type(exc), "container")
        detail, fix = _split(str(exc))
        return [Check(name, FAIL, detail, fix)]
    where = f"az://{s.container}/{s.prefix}".rstrip("/")
    return [
        Check(
            "container",
            PASS if ok else FAIL,
            f"{where} (account {s.account_name}): write, read and delete work"
            if ok
            else f"{where}: the probe blob read back differently",
        )
    ]


def check_workspace(s: Settings) -> list[Check]:
    """The Azure ML workspace, and its compute target, through Azure Resource Manager."""
    if not (s.subscription_id and s.resource_group and s.workspace):
        return [
            Check(
                "azure ml workspace",
                SKIP,
                "no workspace given",
                "pass --subscription-id, --resource-group and --workspace, or use a stack with "
                "an azureml executor",
            )
        ]
    from flowy_azure import jobs
    from flowy_azure.azureml import AzureMLBackend, AzureMLOptions

    options = AzureMLOptions.model_validate(
        {
            "mode": "local",
            "subscription_id": s.subscription_id,
            "resource_group": s.resource_group,
            "workspace": s.workspace,
            "compute": s.compute,
            "management_endpoint": s.management_endpoint or jobs.MANAGEMENT,
            "connect_timeout": s.timeout,
            "read_timeout": s.timeout,
            "retries": 1,
        }
    )
    path = jobs.workspace_path(s.subscription_id, s.resource_group, s.workspace)
    checks = []
    try:
        backend = AzureMLBackend(options)
        found = backend._call("GET", path, f"read workspace {s.workspace!r}")
    except AzureError as exc:
        detail, fix = _split(str(exc))
        return [Check("azure ml workspace", FAIL, detail, fix)]
    checks.append(
        Check("azure ml workspace", PASS, f"{s.workspace} in {found.get('location', '?')}")
    )
    if not s.compute or s.compute == "serverless":
        return checks
    try:
        compute: dict[str, Any] = backend._call(
            "GET", f"{path}/computes/{s.compute}", f"read compute {s.compute!r}"
        )
    except AzureError as exc:
        detail, fix = _split(str(exc))
        return [*checks, Check("compute", FAIL, detail, fix or "create it or fix `compute`")]
    props = compute.get("properties", {})
    state = props.get("provisioningState", "?")
    checks.append(
        Check(
            "compute",
            PASS if state == "Succeeded" else WARN,
            f"{s.compute}: {props.get('computeType', '?')}, provisioning {state}",
            "" if state == "Succeeded" else "wait for the compute to finish provisioning",
        )
    )
    return checks


def run_checks(s: Settings) -> list[Check]:
    """All checks, in order; the container is not tried when the endpoint or credentials fail.

    A failure the container probe meets about the endpoint or the credentials (a rejected
    key) replaces that check's earlier result, so each problem is reported once, where it is.
    """
    checks = [check_endpoint(s), check_credentials(s)]
    if all(c.status == PASS for c in checks):
        for found in check_container(s):
            names = [c.name for c in checks]
            if found.name in names:
                checks[names.index(found.name)] = found
            else:
                checks.append(found)
    else:
        checks.append(Check("container", SKIP, "needs a reachable endpoint and credentials"))
    checks += check_workspace(s)
    return checks
