"""The job side: run one step attempt from a manifest URI, write its result.

A cloud plugin's ``python -m flowy_<cloud>.entrypoint MANIFEST_URI`` is a few
lines: it builds the *bootstrap store* (the artifact store that holds the
manifest, from the URI and the environment the executor set) and calls
:func:`main`. The same command runs in the cloud job and, in local mode, in
a local subprocess.

The attempt: read the manifest, fetch the step's module, rebuild the
artifact store and materializers from the task (through the installed
plugins, as every remote worker does), run one attempt with
:func:`flowy.run.execute_attempt` and write the
:class:`~flowy.kernel.records.StepResult` next to the manifest. Retries and
timeouts are the orchestrator's: one job is one attempt.

Exit status: 0 when a result was written (a failed step is a result, not a
crashed job); 1 when the step could not even start (a failure result is
still written when possible); 2 when no result could be written or the
command line is wrong.
"""

from __future__ import annotations

import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flowy.kernel.contracts import ArtifactStore

#: Recorded as the error type when the job cannot start its step.
ENTRYPOINT_ERROR = "flowy.remote_jobs.EntrypointError"


def run(manifest_uri: str, store: ArtifactStore, *, error_type: str = ENTRYPOINT_ERROR) -> int:
    """Run the attempt described at ``manifest_uri`` (read through ``store``); the exit status."""
    from flowy.kernel.records import FAILED, StepResult
    from flowy.remote_jobs import manifest
    from flowy.run import execute_attempt, retry_types, runtime_from_task

    started = time.time()
    result_uri = manifest.default_result_uri(manifest_uri)
    step = "?"
    try:
        task, code_uri, result_uri = manifest.read_manifest(store, manifest_uri)
        step = task.step
        if code_uri:
            into = Path(tempfile.mkdtemp(prefix="flowy-code-"))
            task = manifest.fetch_code(store, code_uri, task, into)
        runtime = runtime_from_task(task)
        retry_on = retry_types(task)
    except Exception as exc:  # noqa: BLE001 - reported in the result
        result = StepResult(
            step=step,
            status=FAILED,
            started_at=started,
            finished_at=time.time(),
            error=f"the job could not start step {step!r}: {type(exc).__name__}: {exc}",
            error_type=error_type,
            traceback=traceback.format_exc(),
            retryable=False,
        )
        print(result.error, file=sys.stderr)
        code = 1
    else:
        result = execute_attempt(task, None, runtime, retry_on)
        code = 0
    # Echo to the job's own log too (CloudWatch, Cloud Logging...).
    sys.stdout.write(result.logs)
    print(f"flowy: step {step!r} {result.status}" + (f": {result.error}" if result.error else ""))
    try:
        manifest.write_result(store, result_uri, result)
    except Exception:  # noqa: BLE001
        traceback.print_exc()
        return 2
    return code


def main(
    argv: list[str] | None,
    bootstrap: Callable[[str], ArtifactStore],
    *,
    usage: str,
    error_type: str = ENTRYPOINT_ERROR,
) -> int:
    """The command line: one manifest URI; ``bootstrap(uri)`` builds the store that holds it.

    ``bootstrap`` may raise :class:`SystemExit` with a message for a URI it cannot serve.
    """
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(f"usage: {usage}", file=sys.stderr)
        return 2
    try:
        store = bootstrap(args[0])
    except SystemExit as exc:
        print(exc.code if isinstance(exc.code, str) else f"usage: {usage}", file=sys.stderr)
        return 2
    return run(args[0], store, error_type=error_type)
