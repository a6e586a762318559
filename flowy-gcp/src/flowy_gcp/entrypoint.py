"""``python -m flowy_gcp.entrypoint MANIFEST_URI``: run one step attempt inside a job.

The same command runs in a Vertex AI custom job and, with ``mode =
"local"``, in a local subprocess. The attempt itself (read the manifest,
fetch the code, run, write the result) is the shared
:func:`flowy.remote_jobs.run_manifest`; this module builds the bootstrap store
that reads the manifest: the manifest URI's bucket plus ``FLOWY_GCS_ENDPOINT_URL``,
``FLOWY_GCS_ANONYMOUS`` and ``FLOWY_GCS_PROJECT`` (set by the executor in the
job's environment); credentials come from the job's service account.

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
    from flowy_gcp.gcs_store import GcsArtifactStore

USAGE = "python -m flowy_gcp.entrypoint gs://BUCKET/.../task.json"


def bootstrap_store(manifest_uri: str) -> GcsArtifactStore:
    """The store holding ``manifest_uri``, from the URI and the job's environment."""
    from flowy_gcp.gcs_store import GcsArtifactStore

    if not manifest_uri.startswith("gs://") or "/" not in manifest_uri[5:]:
        raise SystemExit(f"flowy_gcp.entrypoint: {manifest_uri!r} is not a gs://BUCKET/... URI")
    bucket = manifest_uri[5:].split("/", 1)[0]
    return GcsArtifactStore(
        bucket=bucket,
        endpoint_url=os.environ.get("FLOWY_GCS_ENDPOINT_URL") or None,
        anonymous=os.environ.get("FLOWY_GCS_ANONYMOUS") == "1",
        project=os.environ.get("FLOWY_GCS_PROJECT") or None,
        check_bucket=False,
    )


def main(argv: list[str] | None = None) -> int:
    from flowy.remote_jobs import entrypoint_main

    return entrypoint_main(
        argv, bootstrap_store, usage=USAGE, error_type="flowy_gcp.EntrypointError"
    )


if __name__ == "__main__":
    sys.exit(main())
