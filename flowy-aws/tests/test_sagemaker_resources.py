"""Resource usage of steps run by the sagemaker executor in local mode.

The entrypoint (``python -m flowy_aws.entrypoint``, a process per attempt) measures
the attempt; its figures travel back in the result JSON next to the job and are
stored with the step run; retries add up in the orchestrator.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PIPELINE = """
import os
from pathlib import Path
from flowy import Pipeline, step

@step(cache=False)
def allocate() -> int:
    block = bytearray(120 * 1024 * 1024)
    for i in range(0, len(block), 4096):
        block[i] = 1
    return len(block)

@step(cache=False, retries=1, retry_backoff=0.01)
def write_twice(allocate: int, out: str) -> int:
    with open(Path(out) / "data.bin", "ab") as f:
        f.write(b"z" * 3_000_000)
    if (Path(out) / "data.bin").stat().st_size < 6_000_000:
        raise ConnectionError("first attempt fails")
    return 1

pipeline = Pipeline("sm-resources", [allocate, write_twice])
"""


def test_local_jobs_record_their_resources(
    project: Path, aws_plugins: Any, store_options: dict[str, Any]
) -> None:
    from flowy.run.engine import run_pipeline
    from flowy.run.loader import load_module

    stacks = project / ".flowy" / "stacks"
    stacks.mkdir(exist_ok=True)
    table = "\n".join(f"{k} = {json.dumps(v)}" for k, v in store_options.items())
    (stacks / "s3local.toml").write_text(
        '[executor]\ntype = "sagemaker"\nmode = "local"\npoll_interval = 0.05\n'
        f'[metadata_store]\ntype = "sqlite"\nurl = "sqlite:///{project}/.flowy/meta.db"\n'
        f'[artifact_store]\ntype = "s3"\n{table}\n'
    )
    (project / "pipe.py").write_text(PIPELINE)
    module = load_module(project / "pipe.py")
    result = run_pipeline(
        module.pipeline, stack="s3local", plugins=aws_plugins, project=project,
        params={"out": str(project)},
    )  # fmt: skip
    assert result.status == "completed"
    allocate, written = result.steps["allocate"], result.steps["write_twice"]
    assert allocate.peak_rss_bytes > 120 * 1024 * 1024
    assert allocate.cpu_seconds > 0
    assert written.attempts == 2
    assert written.written_bytes >= 6_000_000  # both attempts' 3 MB
