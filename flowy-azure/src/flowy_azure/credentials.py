"""Where the ``azure_blob`` store's credentials come from: the environment, never a stack file.

The order is the one Azure's own tools use, first match wins:

1. ``AZURE_STORAGE_CONNECTION_STRING`` (its key or SAS, and its blob
   endpoint when it names one; ``UseDevelopmentStorage=true`` means Azurite);
2. ``AZURE_STORAGE_ACCOUNT_KEY`` (shared key for the stack's account);
3. ``AZURE_STORAGE_SAS_TOKEN`` (a SAS for the account or the container);
4. Azure AD through ``azure.identity``'s ``DefaultAzureCredential``
   (service-principal or workload-identity variables, a managed identity,
   ``az login``), which needs a data role such as *Storage Blob Data
   Contributor* on the account.

Keeping keys out of stack options means a stack file can be committed and
shared, as with the AWS chain in flowy-aws.
"""

from __future__ import annotations

import os
from typing import Any

import attrs

from flowy_azure.errors import CREDENTIALS_FIX, AzureCredentialsError

#: Azurite's well-known development account (public, documented by Microsoft).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

ENV_VARS = (
    "AZURE_STORAGE_CONNECTION_STRING",
    "AZURE_STORAGE_ACCOUNT_KEY",
    "AZURE_STORAGE_SAS_TOKEN",
)


@attrs.frozen
class Credential:
    """A resolved credential: what the SDK takes, where it came from, and an endpoint."""

    source: str
    """In words, for messages and ``flowy azure check`` (never the secret itself)."""
    value: Any
    """A shared-key dict, a SAS string, or an async token credential."""
    endpoint: str | None = None
    """The blob endpoint a connection string named, if any."""


def parse_connection_string(text: str) -> dict[str, str]:
    """``Key=Value;...`` as a dict (values may contain ``=``, as base64 keys do)."""
    parts: dict[str, str] = {}
    for item in text.split(";"):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep:
            raise AzureCredentialsError(
                f"AZURE_STORAGE_CONNECTION_STRING is malformed near {key.strip()!r}: expected "
                "`Name=Value;Name=Value` (copy it from `az storage account "
                "show-connection-string -n ACCOUNT`)."
            )
        parts[key.strip()] = value.strip()
    if parts.get("UseDevelopmentStorage", "").lower() == "true":
        proxy = parts.get("DevelopmentStorageProxyUri", "http://127.0.0.1")
        parts = {
            "AccountName": AZURITE_ACCOUNT,
            "AccountKey": AZURITE_KEY,
            "BlobEndpoint": f"{proxy.rstrip('/')}:10000/{AZURITE_ACCOUNT}",
        }
    return parts


def is_token(credential: Credential) -> bool:
    """Whether ``credential`` is an Azure AD token credential (sent only over https)."""
    return hasattr(credential.value, "get_token")


def default_endpoint(account: str) -> str:
    return f"https://{account}.blob.core.windows.net"


def resolve(account: str) -> Credential:
    """The credential for ``account``, from the environment (see the module docstring)."""
    conn = os.environ.get("AZURE_STORAGE_CONNECTION_STRING", "").strip()
    if conn:
        parts = parse_connection_string(conn)
        named = parts.get("AccountName")
        if named and named != account:
            raise AzureCredentialsError(
                f"AZURE_STORAGE_CONNECTION_STRING is for account {named!r}, but the stack's "
                f"azure_blob store uses account {account!r}. Set the connection string of "
                f'{account!r}, or `account_name = "{named}"`.'
            )
        endpoint = parts.get("BlobEndpoint")
        if "AccountKey" in parts:
            value: Any = {"account_name": account, "account_key": parts["AccountKey"]}
            return Credential("AZURE_STORAGE_CONNECTION_STRING (account key)", value, endpoint)
        if "SharedAccessSignature" in parts:
            sas = parts["SharedAccessSignature"].lstrip("?")
            return Credential("AZURE_STORAGE_CONNECTION_STRING (SAS)", sas, endpoint)
        raise AzureCredentialsError(
            "AZURE_STORAGE_CONNECTION_STRING holds neither AccountKey nor "
            f"SharedAccessSignature. {CREDENTIALS_FIX}"
        )
    key = os.environ.get("AZURE_STORAGE_ACCOUNT_KEY", "").strip()
    if key:
        value = {"account_name": account, "account_key": key}
        return Credential("AZURE_STORAGE_ACCOUNT_KEY", value)
    sas = os.environ.get("AZURE_STORAGE_SAS_TOKEN", "").strip()
    if sas:
        return Credential("AZURE_STORAGE_SAS_TOKEN", sas.lstrip("?"))
    from azure.identity.aio import DefaultAzureCredential

    return Credential("Azure AD (DefaultAzureCredential)", DefaultAzureCredential())
