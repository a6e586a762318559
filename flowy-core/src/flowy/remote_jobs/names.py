"""Job names and stopping conditions: small rules every job service shares."""

from __future__ import annotations

import math
import re
import secrets

from flowy.kernel.records import StepTask


def job_name(prefix: str, task: StepTask, attempt: int, *, max_length: int = 63) -> str:
    """A unique job name from the pipeline, step and attempt: ``[a-zA-Z0-9-]``, bounded.

    A random suffix keeps names unique across runs and machines; the rest makes
    the job easy to find in a cloud console.
    """
    token = secrets.token_hex(4)
    base = f"{prefix}-{task.pipeline}-{task.step}-a{attempt}"
    base = re.sub(r"[^a-zA-Z0-9-]+", "-", base).strip("-")
    base = re.sub(r"-{2,}", "-", base)
    return f"{base[: max_length - len(token) - 1].rstrip('-')}-{token}"


def max_runtime(task: StepTask, default: int) -> int:
    """The stopping condition in seconds: the step's timeout (rounded up), else ``default``."""
    if task.timeout is None:
        return default
    return max(1, math.ceil(task.timeout))
