"""``python -m flowy_aws.entrypoint MANIFEST_URI``: run one step attempt inside a job.

The same command runs in a SageMaker training job and, with ``mode =
"local"``, in a local subprocess. It reads the step manifest from S3, fetches
the step's module, builds the artifact store and materializers from the task
(through the installed plugins, as every remote worker does), runs one
attempt with :func:`flowy.run.worker.execute_attempt` and writes the
:class:`~flowy.kernel.records.StepResult` next to the manifest. Retries and timeouts
are the orchestrator's: one job is one attempt, as one forked child is one
attempt for the local executor.

The bootstrap store that reads the manifest is built from the manifest URI's
bucket plus ``FLOWY_AWS_REGION`` / ``FLOWY_AWS_ENDPOINT_URL`` (set by the
executor in the job's environment); credentials come from the job's role.

Exit status: 0 when a result was written (a failed step is a result, not a
crashed job); 1 when the step could not even start (a failure result is
still written when possible); 2 when no result could be written.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import traceback
from pathlib import Path


def _bootstrap_store(manifest_uri: str) -> object:
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
    from flowy.kernel.records import FAILED, StepResult
    from flowy.run import execute_attempt, retry_types, runtime_from_task

    from flowy_aws import staging
    from flowy_aws.s3_store import S3ArtifactStore

    store = _bootstrap_store(manifest_uri)
    assert isinstance(store, S3ArtifactStore)
    started = time.time()
    result_uri = manifest_uri.rsplit("/", 1)[0] + "/result.json"
    step = "?"
    try:
        task, code_uri, result_uri = staging.read_manifest(store, manifest_uri)
        step = task.step
        if code_uri:
            task = staging.fetch_code(
                store, code_uri, task, Path(tempfile.mkdtemp(prefix="flowy-code-"))
            )
        runtime = runtime_from_task(task)
        retry_on = retry_types(task)
    except Exception as exc:  # noqa: BLE001 - reported in the result
        result = StepResult(
            step=step,
            status=FAILED,
            started_at=started,
            finished_at=time.time(),
            error=f"the job could not start step {step!r}: {type(exc).__name__}: {exc}",
            error_type="flowy_aws.EntrypointError",
            traceback=traceback.format_exc(),
            retryable=False,
        )
        print(result.error, file=sys.stderr)
        code = 1
    else:
        result = execute_attempt(task, None, runtime, retry_on)
        code = 0
    # Echo to the job's own log stream too (CloudWatch for SageMaker jobs).
    sys.stdout.write(result.logs)
    print(f"flowy: step {step!r} {result.status}" + (f": {result.error}" if result.error else ""))
    try:
        staging.write_result(store, result_uri, result)
    except Exception:  # noqa: BLE001
        traceback.print_exc()
        return 2
    return code


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m flowy_aws.entrypoint s3://BUCKET/.../task.json", file=sys.stderr)
        return 2
    return run(args[0])


if __name__ == "__main__":
    sys.exit(main())
