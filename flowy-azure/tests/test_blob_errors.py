"""Each way Azure Storage can refuse or be unreachable ends in a clear error within the
configured timeout, naming what to fix."""

from __future__ import annotations

import base64
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flowy.kernel.errors import FlowyError
from flowy_azure.blob_store import AzureBlobArtifactStore, AzureBlobOptions
from flowy_azure.errors import AzureConnectionError, AzureContainerError, AzureCredentialsError

pytestmark = pytest.mark.slow  # starts Azurite (Node.js)

#: Bound on how long a failing call may take: a guard against a hang (retries with long
#: backoff, no timeout), far above any configured timeout here, so a loaded machine passes.
#: What was waited for is asserted from the error itself (attempts, the timeout named).
HANG_GUARD = 60


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """A server that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/devstoreaccount1"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        "AZURE_STORAGE_CONNECTION_STRING",
        "AZURE_STORAGE_ACCOUNT_KEY",
        "AZURE_STORAGE_SAS_TOKEN",
        "AZURE_CLIENT_ID",
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_SECRET",
        "AZURE_FEDERATED_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AZURE_CONFIG_DIR", str(tmp_path / "no-az-login"))


def test_missing_container(store_options: dict[str, Any]) -> None:
    started = time.monotonic()
    with pytest.raises(AzureContainerError, match="does not exist") as info:
        AzureBlobArtifactStore(**{**store_options, "container": "no-such-container"})
    message = str(info.value)
    assert "'no-such-container'" in message and "'devstoreaccount1'" in message
    assert "az storage container create" in message and "`container` option" in message
    assert time.monotonic() - started < HANG_GUARD


def test_wrong_account_key(store_options: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_KEY", base64.b64encode(b"not the key" * 6).decode())
    started = time.monotonic()
    with pytest.raises(AzureCredentialsError, match="Azure rejected the credentials") as info:
        AzureBlobArtifactStore(**store_options)
    assert "AZURE_STORAGE_ACCOUNT_KEY" in str(info.value)
    assert "never hold credentials" in str(info.value)
    assert time.monotonic() - started < HANG_GUARD


def test_connection_string_of_another_account(
    store_options: dict[str, Any], monkeypatch: pytest.MonkeyPatch, azurite: Any
) -> None:
    monkeypatch.setenv(
        "AZURE_STORAGE_CONNECTION_STRING",
        azurite.connection_string.replace(azurite.account, "other"),
    )
    with pytest.raises(AzureCredentialsError, match="is for account 'other'"):
        AzureBlobArtifactStore(**store_options)


def test_a_connection_string_is_used(
    store_options: dict[str, Any], monkeypatch: pytest.MonkeyPatch, azurite: Any
) -> None:
    monkeypatch.delenv("AZURE_STORAGE_ACCOUNT_KEY")
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    options = {k: v for k, v in store_options.items() if k != "endpoint_url"}
    store = AzureBlobArtifactStore(**options)  # the endpoint comes from the string
    assert store.endpoint == azurite.endpoint
    store.write_bytes(store.uri_for("x"), b"through the connection string")
    assert store.read_bytes(store.uri_for("x")) == b"through the connection string"


def test_a_sas_token_is_used(
    store_options: dict[str, Any], monkeypatch: pytest.MonkeyPatch, azurite: Any
) -> None:
    from datetime import UTC, datetime, timedelta

    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    sas = generate_container_sas(
        azurite.account,
        store_options["container"],
        account_key=azurite.key,
        permission=ContainerSasPermissions(read=True, write=True, delete=True, list=True),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )
    monkeypatch.delenv("AZURE_STORAGE_ACCOUNT_KEY")
    monkeypatch.setenv("AZURE_STORAGE_SAS_TOKEN", sas)
    store = AzureBlobArtifactStore(**{**store_options, "check_container": False})
    assert store.describe()["auth_source"] == "AZURE_STORAGE_SAS_TOKEN"
    store.write_bytes(store.uri_for("x"), b"through a SAS")
    assert store.read_bytes(store.uri_for("x")) == b"through a SAS"
    read_only = generate_container_sas(
        azurite.account,
        store_options["container"],
        account_key=azurite.key,
        permission=ContainerSasPermissions(read=True),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )
    monkeypatch.setenv("AZURE_STORAGE_SAS_TOKEN", read_only)
    store = AzureBlobArtifactStore(**{**store_options, "check_container": False})
    with pytest.raises(AzureContainerError, match="was denied") as info:
        store.write_bytes(store.uri_for("y"), b"not allowed")
    assert "Storage Blob Data Contributor" in str(info.value)


def test_no_credentials_over_http(store_options: dict[str, Any], no_credentials: None) -> None:
    with pytest.raises(AzureCredentialsError, match="only sent over https") as info:
        AzureBlobArtifactStore(**store_options)
    assert "AZURE_STORAGE_ACCOUNT_KEY" in str(info.value)


def test_no_credentials_at_all(store_options: dict[str, Any], no_credentials: None) -> None:
    """DefaultAzureCredential finds nothing: said before any request leaves the machine."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    options = {**store_options, "endpoint_url": f"https://127.0.0.1:{port}", "retries": 0}
    started = time.monotonic()
    try:
        AzureBlobArtifactStore(**options)
    except AzureCredentialsError as exc:
        assert "no usable Azure credentials" in str(exc) and "az login" in str(exc)
    except AzureConnectionError:  # pragma: no cover - this machine has an Azure identity
        pytest.skip("an Azure AD identity is available here (managed identity or az login)")
    else:  # pragma: no cover
        pytest.fail("a store without credentials was built")
    assert time.monotonic() - started < HANG_GUARD


def test_endpoint_that_does_not_answer(store_options: dict[str, Any], silent_endpoint: str) -> None:
    options = {
        **store_options,
        "endpoint_url": silent_endpoint,
        "connect_timeout": 0.5,
        "read_timeout": 0.5,
        "retries": 1,
    }
    started = time.monotonic()
    with pytest.raises(AzureConnectionError, match="did not answer") as info:
        AzureBlobArtifactStore(**options)
    elapsed = time.monotonic() - started
    assert elapsed < HANG_GUARD, elapsed  # the attempts made, from the error:
    assert "2 attempt(s)" in str(info.value) and "read_timeout=0.5s" in str(info.value)
    assert "`endpoint_url`" in str(info.value)


def test_endpoint_that_refuses(store_options: dict[str, Any]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    started = time.monotonic()
    with pytest.raises(AzureConnectionError, match="did not answer"):
        AzureBlobArtifactStore(
            **{
                **store_options,
                "endpoint_url": f"http://127.0.0.1:{port}/devstoreaccount1",
                "retries": 0,
            }
        )
    assert time.monotonic() - started < HANG_GUARD


def test_errors_while_writing_are_flowy_errors(
    store_options: dict[str, Any], blob_service: Any
) -> None:
    store = AzureBlobArtifactStore(**store_options)
    blob_service.delete_container(store.container)
    with pytest.raises(FlowyError, match="does not exist"):
        store.write_bytes(store.uri_for("x"), b"data")
    with pytest.raises(AzureContainerError, match="does not exist"):
        store.exists(store.uri_for("x"))


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"account_name": "Bad_Account", "container": "ok"}, "account_name"),
        ({"account_name": "acct", "container": "Bad_Container"}, "container"),
        ({"account_name": "acct", "container": "two--dashes"}, "container"),
        ({"account_name": "acct", "container": "box", "chunk_size": 1024}, "chunk_size"),
        ({"account_name": "acct", "container": "box", "account_key": "x"}, "account_key"),
        ({"container": "box"}, "account_name"),
    ],
)
def test_options_are_validated(options: dict[str, Any], field: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=field):
        AzureBlobOptions(**options)
    assert AzureBlobOptions(account_name="acct", container="box").chunk_size == 8 * 1024 * 1024
