"""``python -m flowy_aws.entrypoint MANIFEST_URI``: run one step attempt inside a job.

The same command runs in a SageMaker training job and, with ``mode =
"local"``, in a local subprocess. The attempt itself (read the manifest,
fetch the code, run, write the result) is the shared
:func:`flowy.remote_jobs.run_manifest`; this module builds the bootstrap store
that reads the manifest: the manifest URI's bucket plus ``FLOWY_AWS_REGION`` /
``FLOWY_AWS_ENDPOINT_URL`` (set by the executor in the job's environment);
credentials come from the job's role.

Exit status: 0 when a result was written (a failed step is a result, not a
crashed job); 1 when the step could not even start (a failure result is
still written when possible); 2 when no result could be written.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flowy_aws.s3_store import S3ArtifactStore

USAGE = "python -m flowy_aws.entrypoint s3://BUCKET/.../task.json"


def _bootstrap_store(manifest_uri: str) -> S3ArtifactStore:
    from flowy_aws.s3_store import S3ArtifactStore

    if not manifest_uri.startswith("s3://"):
        raise SystemExit(f"flowy_aws.entrypoint: {manifest_uri!r} is not an s3:// URI")
    bucket = manifest_uri[5:].split("/", 1)[0]
    return S3ArtifactStore(
        bucket=bucket,
        region=os.environ.get("FLOWY_AWS_REGION") or None,
        endpoint_url=os.environ.get("FLOWY_AWS_ENDPOINT_URL") or None,
        check_bucket=False,
    )


def run(manifest_uri: str) -> int:
    """Run the attempt described at ``manifest_uri``; return the exit status."""
    from flowy.remote_jobs import run_manifest

    return run_manifest(
        manifest_uri, _bootstrap_store(manifest_uri), error_type="flowy_aws.EntrypointError"
    )


def main(argv: list[str] | None = None) -> int:
    from flowy.remote_jobs import entrypoint_main

    return entrypoint_main(
        argv, _bootstrap_store, usage=USAGE, error_type="flowy_aws.EntrypointError"
    )


if __name__ == "__main__":
    sys.exit(main())
