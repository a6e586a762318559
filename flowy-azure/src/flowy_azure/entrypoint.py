"""``python -m flowy_azure.entrypoint MANIFEST_URI``: run one step attempt inside a job.

The same command runs in an Azure ML command job and, with ``mode =
"local"``, in a local subprocess. The attempt itself (read the manifest,
fetch the code, run, write the result) is the shared
:func:`flowy.remote_jobs.run_manifest`; this module builds the bootstrap
store that reads the manifest: the manifest URI's container plus
``FLOWY_AZURE_ACCOUNT_NAME`` / ``FLOWY_AZURE_ENDPOINT_URL`` (set by the
executor in the job's environment). Credentials come from the job's
environment as for every ``azure_blob`` store: the compute's managed
identity through ``DefaultAzureCredential``, or a variable the stack's
``environment`` option sets.

Exit status: 0 when a result was written (a failed step is a result, not a
crashed job); 1 when the step could not even start (a failure result is
still written when possible); 2 when no result could be written or the
command line is wrong.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flowy_azure.blob_store import AzureBlobArtifactStore

USAGE = "python -m flowy_azure.entrypoint az://CONTAINER/.../task.json"
ERROR_TYPE = "flowy_azure.EntrypointError"


def _bootstrap_store(manifest_uri: str) -> AzureBlobArtifactStore:
    from flowy_azure.blob_store import SCHEME, AzureBlobArtifactStore

    if not manifest_uri.startswith(SCHEME):
        raise SystemExit(f"flowy_azure.entrypoint: {manifest_uri!r} is not an {SCHEME} URI")
    account = os.environ.get("FLOWY_AZURE_ACCOUNT_NAME", "")
    if not account:
        raise SystemExit(
            "flowy_azure.entrypoint: FLOWY_AZURE_ACCOUNT_NAME is not set (the azureml "
            "executor sets it in the job's environment, with FLOWY_AZURE_ENDPOINT_URL)"
        )
    container = manifest_uri[len(SCHEME) :].split("/", 1)[0]
    return AzureBlobArtifactStore(
        account_name=account,
        container=container,
        endpoint_url=os.environ.get("FLOWY_AZURE_ENDPOINT_URL") or None,
        check_container=False,
    )


def main(argv: list[str] | None = None) -> int:
    from flowy.remote_jobs import entrypoint_main

    return entrypoint_main(argv, _bootstrap_store, usage=USAGE, error_type=ERROR_TYPE)


if __name__ == "__main__":
    sys.exit(main())
