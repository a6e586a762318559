"""Streaming steps through real `flowy run`: generator steps, chunked artifacts, iterator inputs.

A generator step's chunks are written as they arrive into one chunked artifact
(Parquet row groups or npy records, each chunk checksummed); a parameter annotated
``Iterator[...]`` reads it chunk by chunk; any other parameter gets the whole object.
The 4 GB stream with bounded memory is in tests/test_streaming_memory.py.
"""

from __future__ import annotations

import json
import sqlite3
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

PIPELINE = textwrap.dedent(
    """
    from collections.abc import Iterator
    from pathlib import Path

    import numpy as np
    import pandas as pd
    from flowy import Pipeline, step

    MARKS = Path(__file__).with_name("marks.txt")

    def mark(text):
        with MARKS.open("a") as f:
            f.write(text + "\\n")

    @step
    def produce(n: int = 5, label: str = "a") -> Iterator[pd.DataFrame]:
        for i in range(n):
            mark(f"produce {i}")
            yield pd.DataFrame({"x": np.arange(1000) + i * 1000, "y": np.full(1000, float(i))})

    @step
    def double(produce: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for i, chunk in enumerate(produce):
            mark(f"double got {i} rows {len(chunk)} first {chunk.index[0]}")
            chunk["y"] = chunk["y"] * 2
            yield chunk

    @step
    def total(double: pd.DataFrame) -> dict:
        mark(f"total {type(double).__name__} {len(double)}")
        return {"rows": len(double), "y": float(double["y"].sum()), "last": int(double.index[-1])}

    pipeline = Pipeline("stream", [produce, double, total])
    """
)


@pytest.fixture
def streaming_project(
    tmp_path: Path,
    flowy_env: Callable[..., dict[str, str]],
    flowy_runner: Callable[..., Any],
) -> tuple[Path, Any]:
    project = tmp_path / "project"
    (project / ".flowy").mkdir(parents=True)
    env = flowy_env(tmp_path / "home", FLOWY_PROJECT=str(project))
    return project, flowy_runner(project, env, timeout=300)


def _db(project: Path) -> sqlite3.Connection:
    return sqlite3.connect(project / ".flowy" / "metadata.db")


def _artifact(project: Path, step: str) -> tuple[str, str, dict[str, Any]]:
    uri, materializer, metadata = (
        _db(project)
        .execute(
            "SELECT uri, materializer, metadata FROM artifacts WHERE step = ? "
            "ORDER BY created_at DESC LIMIT 1",
            (step,),
        )
        .fetchone()
    )
    return uri, materializer, json.loads(metadata)


def _result(project: Path) -> dict[str, Any]:
    uri, _, _ = _artifact(project, "total")
    return json.loads(Path(uri).read_text())  # type: ignore[no-any-return]


def test_a_stream_through_two_streaming_steps_then_a_whole_frame(
    streaming_project: tuple[Path, Any],
) -> None:
    project, flowy = streaming_project
    (project / "pipe.py").write_text(PIPELINE)
    done = flowy("run", "pipe.py")
    assert "Run" in done.stdout and "completed" in done.stdout, done.stdout

    assert _result(project) == {"rows": 5000, "y": 2 * 1000 * (0 + 1 + 2 + 3 + 4), "last": 4999}
    for step in ("produce", "double"):
        uri, materializer, metadata = _artifact(project, step)
        assert materializer == "chunked_parquet" and uri.endswith(f"/{step}.parquet")
        layout = metadata["flowy_chunks"]
        assert layout["count"] == 5 and layout["rows"] == 5000
        assert [c["rows"] for c in layout["chunks"]] == [1000] * 5
        assert all(c["checksum"].startswith("blake3:") for c in layout["chunks"])
        # A plain Parquet file, one row group per chunk: any tool reads it.
        import pyarrow.parquet as pq

        assert pq.ParquetFile(uri).metadata.num_row_groups == 5

    marks = (project / "marks.txt").read_text().splitlines()
    # The consumer's chunks carry one running index, and arrive one at a time, in order.
    got = [m for m in marks if m.startswith("double got")]
    assert got == [f"double got {i} rows 1000 first {i * 1000}" for i in range(5)]
    assert marks[-1] == "total DataFrame 5000"


def test_a_rerun_is_cached_and_the_input_hash_of_a_chunked_artifact_is_its_checksum(
    streaming_project: tuple[Path, Any],
) -> None:
    project, flowy = streaming_project
    (project / "pipe.py").write_text(PIPELINE)
    flowy("run", "pipe.py")
    again = flowy("run", "pipe.py")
    for step in ("produce", "double", "total"):
        assert f"{step}: cached" in again.stdout, again.stdout

    # Another label re-runs the producer, which writes the same bytes: the same checksum,
    # so the consumers' input hash is unchanged and they stay cached.
    relabelled = flowy("run", "pipe.py", "-p", "label=b")
    assert "produce: done" in relabelled.stdout, relabelled.stdout
    assert "double: cached" in relabelled.stdout and "total: cached" in relabelled.stdout

    # More chunks: a new checksum, and everything downstream runs again.
    longer = flowy("run", "pipe.py", "-p", "n=6")
    assert "double: done" in longer.stdout and "total: done" in longer.stdout, longer.stdout
    assert _result(project)["rows"] == 6000


EMPTY_PIPELINE = textwrap.dedent(
    """
    from collections.abc import Iterator

    import pandas as pd
    from flowy import Pipeline, step

    @step
    def produce() -> Iterator[pd.DataFrame]:
        return
        yield

    @step
    def count(produce: Iterator[pd.DataFrame]) -> int:
        return sum(1 for _ in produce)

    @step
    def whole(produce: pd.DataFrame) -> list:
        return [type(produce).__name__, len(produce)]

    pipeline = Pipeline("empty", [produce, count, whole])
    """
)


def test_an_empty_generator_gives_no_chunks_and_an_empty_frame(
    streaming_project: tuple[Path, Any],
) -> None:
    project, flowy = streaming_project
    (project / "pipe.py").write_text(EMPTY_PIPELINE)
    flowy("run", "pipe.py")
    assert json.loads(Path(_artifact(project, "count")[0]).read_text()) == 0
    assert json.loads(Path(_artifact(project, "whole")[0]).read_text()) == ["DataFrame", 0]


MIXED_PIPELINE = textwrap.dedent(
    """
    import pandas as pd
    from flowy import Pipeline, step

    @step
    def produce():
        yield pd.DataFrame({"x": [1, 2], "y": [0.5, 1.5]})
        yield pd.DataFrame({"x": ["a", "b"], "y": [0.5, 1.5]})

    pipeline = Pipeline("mixed", [produce])
    """
)


def test_mixed_chunk_schemas_fail_the_step_with_a_clear_error(
    streaming_project: tuple[Path, Any],
) -> None:
    project, flowy = streaming_project
    (project / "pipe.py").write_text(MIXED_PIPELINE)
    done = flowy("run", "pipe.py", code=None)
    shown = done.stdout + done.stderr
    assert done.returncode != 0
    assert "Chunk 1 of the stream does not match the first chunk's schema" in shown, shown
    assert "changed types ['x: int64 ->" in shown, shown
    assert not list((project / ".flowy").rglob("produce.parquet"))
    assert _db(project).execute("SELECT count(*) FROM artifacts").fetchone() == (0,)


KILLED_PIPELINE = textwrap.dedent(
    """
    import os
    import signal
    from pathlib import Path

    import numpy as np
    import pandas as pd
    from flowy import Pipeline, step

    @step(timeout=600)  # a timed step runs in a forked child: the kill ends only that child
    def produce(how: str = "kill", frames: bool = False):
        for i in range(6):
            chunk = np.full((1000, 4), float(i))
            yield pd.DataFrame(chunk, columns=list("abcd")) if frames else chunk
            if i == 2:
                Path(__file__).with_name("killed-at").write_text(str(i))
                if how == "kill":
                    os.kill(os.getpid(), signal.SIGKILL)
                raise ValueError("the source went away after 3 chunks")

    @step
    def consume(produce) -> int:
        return len(produce)

    pipeline = Pipeline("killed", [produce, consume])
    """
)


@pytest.mark.parametrize("frames", [False, True], ids=["arrays", "frames"])
@pytest.mark.parametrize("how", ["kill", "raise"])
def test_a_killed_or_failed_stream_leaves_no_artifact_and_fails_the_run(
    streaming_project: tuple[Path, Any], how: str, frames: bool
) -> None:
    project, flowy = streaming_project
    (project / "pipe.py").write_text(KILLED_PIPELINE)
    done = flowy("run", "pipe.py", "-p", f"how={how}", "-p", f"frames={frames}", code=None)
    shown = done.stdout + done.stderr
    assert done.returncode != 0, shown
    assert (project / "killed-at").read_text() == "2"
    expected = "WorkerDied" if how == "kill" else "the source went away after 3 chunks"
    assert expected in shown, shown
    db = _db(project)
    assert db.execute("SELECT status FROM runs").fetchall() == [("failed",)]
    statuses = dict(db.execute("SELECT step, status FROM step_runs").fetchall())
    assert statuses.get("produce") == "failed", statuses
    assert db.execute("SELECT count(*) FROM artifacts").fetchone() == (0,)
    # No artifact under its final name; at most a temporary file a SIGKILL left (gc's).
    files = [p.name for p in (project / ".flowy").rglob("*produce*") if p.is_file()]
    assert not [f for f in files if f in ("produce.npys", "produce.parquet")], files
    assert all(".tmp-" in f or f.endswith(".flowy.json") for f in files), files
