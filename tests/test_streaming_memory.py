"""A 4 GB stream through two streaming steps in a real `flowy run`, in bounded memory.

The producer yields 4 GB of frames, 32 MB at a time; the next step takes them as
``Iterator[pd.DataFrame]`` and yields each transformed; the last takes that as an
iterator and reduces it. Peak RSS of the `flowy run` process (every step runs in it:
a chain runs in the orchestrating process) must stay under 500 MB, measured by a
wrapper process with ``resource.getrusage(RUSAGE_CHILDREN)``, so no other test's
children count. ``FLOWY_STREAM_TEST_MB`` makes it smaller for a quick look. The
project (8 GB of artifacts) is deleted at the end, pass or fail.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

STREAM_MB = int(os.environ.get("FLOWY_STREAM_TEST_MB", "4096"))
LIMIT_MB = 500

PIPELINE = textwrap.dedent(
    """
    from collections.abc import Iterator

    import numpy as np
    import pandas as pd
    from flowy import Pipeline, step

    CHUNK_MB = 32
    COLUMNS = 8

    @step
    def produce(mb: int) -> Iterator[pd.DataFrame]:
        rows = CHUNK_MB * (1 << 20) // (8 * COLUMNS)
        block = np.random.default_rng(0).random((rows, COLUMNS))
        names = [f"c{i}" for i in range(COLUMNS)]
        for i in range(mb // CHUNK_MB):
            yield pd.DataFrame(block + i, columns=names)

    @step
    def scale(produce: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for chunk in produce:
            yield chunk * 2.0

    @step
    def summary(scale: Iterator[pd.DataFrame]) -> dict:
        rows, total, chunks = 0, 0.0, 0
        for chunk in scale:
            rows += len(chunk)
            total += float(chunk["c0"].sum())
            chunks += 1
        return {"rows": rows, "c0": total, "chunks": chunks}

    pipeline = Pipeline("big-stream", [produce, scale, summary])
    """
)

MEASURE = (
    "import json, resource, subprocess, sys\n"
    "rc = subprocess.call(sys.argv[1:])\n"
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "print(json.dumps({'rc': rc, 'peak_kb': peak}))\n"
)


@pytest.mark.slow
def test_a_4gb_stream_through_two_streaming_steps_stays_under_500mb(
    tmp_path: Path, flowy_env: Callable[..., dict[str, str]], flowy_command: list[str]
) -> None:
    project = tmp_path / "project"
    (project / ".flowy").mkdir(parents=True)
    (project / "pipe.py").write_text(PIPELINE)
    env = flowy_env(tmp_path / "home", FLOWY_PROJECT=str(project))
    try:
        argv = [*flowy_command, "run", "pipe.py", "-p", f"mb={STREAM_MB}"]
        done = subprocess.run(
            [sys.executable, "-c", MEASURE, *argv],
            cwd=project, env=env, capture_output=True, text=True, timeout=3600, check=False,
        )  # fmt: skip
        measured = json.loads(done.stdout.strip().splitlines()[-1])
        assert measured["rc"] == 0, done.stdout + done.stderr
        peak_mb = measured["peak_kb"] / 1024
        print(f"stream {STREAM_MB} MB through two streaming steps: peak RSS {peak_mb:.0f} MB")

        import sqlite3

        db = sqlite3.connect(project / ".flowy" / "metadata.db")
        rows = dict(db.execute("SELECT step, size FROM artifacts").fetchall())
        summary_uri = db.execute("SELECT uri FROM artifacts WHERE step = 'summary'").fetchone()[0]
        db.close()
        summary = json.loads(Path(summary_uri).read_text())
        chunks = STREAM_MB // 32
        assert summary["chunks"] == chunks and summary["rows"] == chunks * (1 << 19)
        # Random floats do not compress: each artifact on disk is about the stream's size.
        assert rows["produce"] > STREAM_MB * (1 << 20) * 0.9
        assert rows["scale"] > STREAM_MB * (1 << 20) * 0.9
        assert peak_mb < LIMIT_MB, f"peak RSS {peak_mb:.0f} MB for a {STREAM_MB} MB stream"
    finally:
        shutil.rmtree(project, ignore_errors=True)
