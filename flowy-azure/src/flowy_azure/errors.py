"""Azure errors turned into Flowy errors that say what is wrong and what to do.

The Azure SDK's exceptions are precise but speak Azure ("ContainerNotFound",
"AuthorizationFailure", "Cannot connect to host"). Users of a stack need the
account, the container, the endpoint and the fix in one paragraph, and the CLI
prints a :class:`~flowy.kernel.errors.FlowyError` without a traceback, so
every call into Azure goes through :func:`translate` (the original exception
stays chained).
"""

from __future__ import annotations

import enum
from typing import Any

from flowy.kernel.errors import FlowyError


class AzureError(FlowyError):
    """An Azure call failed for a reason the user can fix (credentials, container, network)."""


class AzureCredentialsError(AzureError):
    """No usable Azure credentials were found, or Azure rejected them."""


class AzureContainerError(AzureError):
    """The container is missing, or not accessible with these credentials."""


class AzureConnectionError(AzureError):
    """The endpoint did not answer within the configured timeouts and retries."""


CREDENTIALS_FIX = (
    "Flowy reads credentials only from the environment: AZURE_STORAGE_CONNECTION_STRING, "
    "or AZURE_STORAGE_ACCOUNT_KEY (`az storage account keys list -n ACCOUNT`), or "
    "AZURE_STORAGE_SAS_TOKEN, or else Azure AD through DefaultAzureCredential (`az login`, "
    "AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET, a managed or workload identity, "
    "which needs the 'Storage Blob Data Contributor' role on the account). Stack files never "
    "hold credentials."
)

#: Error codes meaning "these credentials were refused" (Azure says AuthenticationFailed,
#: Azurite AuthorizationFailure for a wrong account key).
_REJECTED = {
    "AuthenticationFailed",
    "AuthorizationFailure",
    "InvalidAuthenticationInfo",
    "NoAuthenticationInformation",
    "InvalidQueryParameterValue",  # a malformed SAS token
}
#: Error codes meaning "authenticated, but not allowed".
_DENIED = {
    "AuthorizationPermissionMismatch",
    "AuthorizationResourceTypeMismatch",
    "AuthorizationSourceIPMismatch",
    "AuthorizationProtocolMismatch",
    "InsufficientAccountPermissions",
    "AccountIsDisabled",
}


def error_code(exc: BaseException) -> str:
    """The storage error code of an Azure SDK error (``ContainerNotFound``), or ''."""
    code: Any = getattr(exc, "error_code", None)
    if isinstance(code, enum.Enum):
        code = code.value
    if code:
        return str(code)
    status = getattr(exc, "status_code", None)
    return str(status) if status else ""


def root_cause(exc: BaseException) -> BaseException:
    """The Azure SDK error under adlfs's or fsspec's translation, else ``exc``."""
    seen: BaseException | None = exc
    while seen is not None:
        if type(seen).__module__.startswith(("azure.", "aiohttp")):
            return seen
        seen = seen.__cause__ or seen.__context__
    return exc


def is_not_found(exc: BaseException) -> bool:
    """Whether ``exc`` means "no such blob" (404 BlobNotFound)."""
    exc = root_cause(exc)
    return isinstance(exc, FileNotFoundError) or error_code(exc) in ("BlobNotFound", "404")


def is_container_missing(exc: BaseException) -> bool:
    return error_code(root_cause(exc)) == "ContainerNotFound"


def _is_connection(exc: BaseException) -> bool:
    from azure.core import exceptions as ae

    return isinstance(
        exc,
        ae.ServiceRequestError | ae.ServiceResponseError | TimeoutError | ConnectionError,
    ) or type(exc).__name__ in ("ClientConnectorError", "ServerDisconnectedError", "ClientOSError")


def translate(
    exc: BaseException,
    *,
    what: str,
    account: str | None = None,
    container: str | None = None,
    endpoint: str | None = None,
    timeouts: str = "",
) -> AzureError:
    """A clear :class:`AzureError` for ``exc``, raised while doing ``what``."""
    if isinstance(exc, AzureError):
        return exc
    from azure.core import exceptions as ae

    exc = root_cause(exc)
    where = f"container {container!r} of account {account!r}" if container else "Azure Storage"
    at = f" at {endpoint}" if endpoint else ""
    code = error_code(exc)
    name = type(exc).__name__
    if name == "CredentialUnavailableError" or (
        isinstance(exc, ae.ClientAuthenticationError) and not code
    ):
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else name
        return AzureCredentialsError(
            f"Cannot {what}: no usable Azure credentials were found ({first}). {CREDENTIALS_FIX}"
        )
    if _is_connection(exc):
        return AzureConnectionError(
            f"Cannot {what}: the endpoint{at or ' for ' + where} did not answer "
            f"({name}: {_first_line(exc)}){' within ' + timeouts if timeouts else ''}. Check the "
            "network and the `endpoint_url` and `account_name` options, and raise "
            "`connect_timeout`, `read_timeout` or `retries` if the link is slow."
        )
    if code in _REJECTED:
        return AzureCredentialsError(
            f"Cannot {what}: Azure rejected the credentials for account {account!r}{at} ({code}). "
            "Check that the key, SAS token or connection string belongs to this account and "
            f"has not been rotated or expired. {CREDENTIALS_FIX}"
        )
    if code == "ContainerNotFound":
        return AzureContainerError(
            f"Cannot {what}: the container {container!r} does not exist in account "
            f"{account!r}{at}. Create it (`az storage container create --account-name "
            f"{account} --name {container} --auth-mode login`) or fix the stack's `container` "
            "option."
        )
    if code in _DENIED or code == "403" or isinstance(exc, ae.ClientAuthenticationError):
        return AzureContainerError(
            f"Cannot {what}: access to {where} was denied ({code or name}). Give the identity "
            "the 'Storage Blob Data Contributor' role on the account or container (or use a "
            "SAS token with read, write, delete and list permissions); `flowy azure check` "
            "shows which call fails."
        )
    status = getattr(exc, "status_code", None) or 0
    if status >= 500 or code in ("ServerBusy", "InternalError", "OperationTimedOut"):
        return AzureConnectionError(
            f"Cannot {what}: {where} kept failing ({code or status}: {_first_line(exc)}) after "
            "the configured retries. It is usually transient: run again, or raise the "
            "`retries` option."
        )
    return AzureError(f"Cannot {what} ({where}{at}): {name}: {_first_line(exc)}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
