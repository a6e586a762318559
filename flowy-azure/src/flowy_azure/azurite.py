"""Start Azurite (Microsoft's Azure Storage emulator) on 127.0.0.1, for tests and benchmarks.

Azurite is a Node.js program from npm, not a Python package, so it is found,
in order, at ``$FLOWY_AZURITE_BLOB`` (the ``azurite-blob`` executable), on
``PATH``, or in ``flowy-azure/.azurite`` where the test setup installs it::

    npm install --prefix flowy-azure/.azurite azurite@3.37.0

:class:`Azurite` starts the blob service on a free port with its data in a
temporary folder and stops it (and removes the folder) on exit. It accepts
every API version the installed SDK speaks (``--skipApiVersionCheck``), since
the SDK often runs ahead of the emulator.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from flowy_azure.credentials import AZURITE_ACCOUNT, AZURITE_KEY

VERSION = "3.37.0"
INSTALL = f"npm install --prefix flowy-azure/.azurite azurite@{VERSION}"
_REPO_COPY = Path(__file__).resolve().parents[2] / ".azurite" / "node_modules" / ".bin"


class AzuriteNotFound(RuntimeError):
    """No ``azurite-blob`` executable was found."""


def find_azurite() -> str:
    """The ``azurite-blob`` executable (see the module docstring for where it is looked for)."""
    explicit = os.environ.get("FLOWY_AZURITE_BLOB")
    if explicit:
        if not os.access(explicit, os.X_OK):
            raise AzuriteNotFound(f"FLOWY_AZURITE_BLOB={explicit} is not an executable")
        return explicit
    for candidate in (shutil.which("azurite-blob"), str(_REPO_COPY / "azurite-blob")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise AzuriteNotFound(
        "Azurite (the Azure Storage emulator) is not installed. From the repository root run "
        f"`{INSTALL}` (needs Node.js 18+ and npm), or point FLOWY_AZURITE_BLOB at an "
        "azurite-blob executable."
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Azurite:
    """``with Azurite() as az:`` -> ``az.endpoint`` (``http://127.0.0.1:PORT/devstoreaccount1``)."""

    account = AZURITE_ACCOUNT
    key = AZURITE_KEY

    def __init__(self, *, start_timeout: float = 60.0) -> None:
        self.executable = find_azurite()
        self.start_timeout = start_timeout
        self.port = 0
        self.folder = ""
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/{self.account}"

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={self.account};AccountKey={self.key};"
            f"BlobEndpoint={self.endpoint};"
        )

    def start(self) -> Azurite:
        self.folder = tempfile.mkdtemp(prefix="flowy-azurite-")
        self.port = free_port()
        log = open(os.path.join(self.folder, "azurite.log"), "wb")  # noqa: SIM115 - kept open
        self.process = subprocess.Popen(
            [
                self.executable,
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                str(self.port),
                "--location",
                os.path.join(self.folder, "data"),
                "--silent",
                "--skipApiVersionCheck",
                "--disableTelemetry",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self.process.poll() is not None:
                output = Path(self.folder, "azurite.log").read_text(errors="replace")
                self.stop()
                raise RuntimeError(f"Azurite exited at start-up: {output[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(
                        f"Azurite did not listen on 127.0.0.1:{self.port} within "
                        f"{self.start_timeout:g} s"
                    ) from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
        if self.folder:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = ""

    def __enter__(self) -> Azurite:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
