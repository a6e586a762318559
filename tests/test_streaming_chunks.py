"""Chunked artifacts in one process: real local store, real materializers, real files.

What `flowy run` cannot show from outside: a corrupted chunk is refused before it is
handed on and the error names it; the whole file's checksum is still checked at the
end; the store stream is open only while a step iterates; every chunk type and
annotation reads back as asked.
"""

from __future__ import annotations

import collections.abc
import importlib
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from flowy.artifacts.resolution import MaterializerRegistry
from flowy.artifacts.store_io import read_artifact, verify_artifact, write_artifact
from flowy.kernel.errors import ChecksumMismatchError, FlowyError
from flowy.kernel.plugins import create_plugin_manager
from flowy.run.streaming import NOT_ITERATOR, ChunkIterator, wanted_chunk_type
from flowy_store_sqlite.local_store import LocalArtifactStore


class CountingStore(LocalArtifactStore):
    """The local store, counting the read streams it has open."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.open_streams = 0
        self.opened = 0

    def open_read(self, uri: str) -> BinaryIO:
        file = super().open_read(uri)
        self.open_streams += 1
        self.opened += 1
        close = file.close

        def counted_close() -> None:
            if not file.closed:
                self.open_streams -= 1
            close()

        file.close = counted_close  # type: ignore[method-assign]
        return file


class Runtime:
    def __init__(self, store: CountingStore) -> None:
        plugins = create_plugin_manager(
            entrypoints=False,
            plugins=[
                ("flowy-materializers", importlib.import_module("flowy_materializers.plugin"))
            ],
        )
        self.artifact_store = store
        self.materializers = MaterializerRegistry(plugins.registry)


@pytest.fixture
def runtime(tmp_path: Path) -> Runtime:
    return Runtime(CountingStore(str(tmp_path / "store")))


def frames(n: int = 4, rows: int = 500) -> Iterator[pd.DataFrame]:
    for i in range(n):
        yield pd.DataFrame({"x": np.arange(rows) + i * rows, "y": np.full(rows, float(i))})


def gen(*chunks: Any) -> Iterator[Any]:
    """A generator of ``chunks`` (what a streaming step's function returns)."""
    yield from chunks


def _write(runtime: Runtime, chunks: Iterator[Any], name: str = "out") -> Any:
    return write_artifact(
        runtime.artifact_store, f"run/step/{name}", name, chunks, runtime.materializers
    )


def _chunks(runtime: Runtime, ref: Any, want: type | None = None) -> ChunkIterator:
    return ChunkIterator(runtime, ref, want, allow_pickle=False)  # type: ignore[arg-type]


def _flip_byte(path: str, offset: int) -> None:
    with open(path, "r+b") as file:
        file.seek(offset)
        byte = file.read(1)
        file.seek(offset)
        file.write(bytes([byte[0] ^ 0xFF]))


@pytest.mark.parametrize("kind", ["parquet", "npy"])
def test_a_corrupted_chunk_is_refused_before_it_is_handed_on_and_named(
    runtime: Runtime, kind: str
) -> None:
    if kind == "parquet":
        ref = _write(runtime, frames())
    else:
        ref = _write(runtime, (np.full((100, 3), float(i)) for i in range(4)))
    chunk = ref.metadata["flowy_chunks"]["chunks"][2]
    _flip_byte(ref.uri, chunk["offset"] + chunk["size"] // 2)

    seen = []
    with pytest.raises(ChecksumMismatchError, match=r"chunk 2 \(of 4\)") as error:
        for value in _chunks(runtime, ref):
            seen.append(value)
    assert len(seen) == 2  # chunks 0 and 1 were good; nothing of chunk 2 was handed on
    assert ref.uri in str(error.value) and "--no-cache" in str(error.value)
    assert runtime.artifact_store.open_streams == 0
    # The whole-object path and the cache check see it too (the file's checksum).
    with pytest.raises(ChecksumMismatchError):
        read_artifact(runtime.artifact_store, ref, runtime.materializers)
    assert not verify_artifact(runtime.artifact_store, ref)


def test_bytes_outside_the_chunks_are_covered_by_the_whole_checksum_at_the_end(
    runtime: Runtime,
) -> None:
    ref = _write(runtime, frames())
    _flip_byte(ref.uri, 1)  # inside Parquet's leading magic: no chunk holds it
    seen = []
    with pytest.raises(ChecksumMismatchError, match="is corrupted: its blake3 checksum"):
        for value in _chunks(runtime, ref):
            seen.append(value)
    assert len(seen) == 4  # every chunk verified on its own; the file as a whole did not


def test_a_corrupted_footer_is_refused_before_any_chunk(runtime: Runtime) -> None:
    ref = _write(runtime, frames())
    tail = ref.metadata["flowy_chunks"]["tail"]
    _flip_byte(ref.uri, tail["offset"] + 10)
    with pytest.raises(ChecksumMismatchError, match="its footer"):
        next(_chunks(runtime, ref))
    assert runtime.artifact_store.open_streams == 0


def test_the_store_stream_is_open_only_while_the_step_iterates(runtime: Runtime) -> None:
    ref = _write(runtime, frames())
    store = runtime.artifact_store
    chunks = _chunks(runtime, ref)
    assert store.opened == 0  # nothing read until the step asks
    next(chunks)
    assert store.open_streams == 1
    chunks.close()  # what the attempt's exit does, whatever the step did
    assert store.open_streams == 0
    assert list(chunks) == []

    for _ in _chunks(runtime, ref):
        pass
    assert store.open_streams == 0  # exhausted: closed without being told

    def failing_step(values: Iterator[pd.DataFrame]) -> None:
        for value in values:
            raise ValueError(f"bad chunk of {len(value)} rows")

    chunks = _chunks(runtime, ref)
    with pytest.raises(ValueError, match="bad chunk"):
        failing_step(chunks)
    chunks.close()
    assert store.open_streams == 0


def test_frames_read_back_chunk_by_chunk_as_asked(runtime: Runtime) -> None:
    ref = _write(runtime, frames(3, 10))
    as_written = list(_chunks(runtime, ref))
    assert [type(c) for c in as_written] == [pd.DataFrame] * 3
    assert [list(c.index[:2]) for c in as_written] == [[0, 1], [10, 11], [20, 21]]
    as_written[0].loc[0, "y"] = 9.0  # chunks are writable, like any loaded frame
    batches = list(_chunks(runtime, ref, pa.RecordBatch))
    assert [type(b) for b in batches] == [pa.RecordBatch] * 3 and batches[2].num_rows == 10
    tables = list(_chunks(runtime, ref, pa.Table))
    assert tables[1].column("x").to_pylist()[0] == 10
    with pytest.raises(FlowyError, match=r"asks for an iterator of numpy\.ndarray"):
        next(_chunks(runtime, ref, np.ndarray))
    whole = read_artifact(runtime.artifact_store, ref, runtime.materializers)
    pd.testing.assert_frame_equal(whole, pd.concat(frames(3, 10), ignore_index=True))


def test_record_batches_and_tables_stream_to_a_table(runtime: Runtime) -> None:
    def batches() -> Iterator[Any]:
        yield pa.record_batch({"a": [1, 2, 3]})
        yield pa.table({"a": [4]})

    ref = _write(runtime, batches())
    assert ref.materializer == "chunked_parquet" and ref.metadata["kind"] == "arrow_batch"
    assert [b.num_rows for b in _chunks(runtime, ref)] == [3, 1]
    whole = read_artifact(runtime.artifact_store, ref, runtime.materializers)
    assert isinstance(whole, pa.Table) and whole.column("a").to_pylist() == [1, 2, 3, 4]


def test_arrays_stream_as_npy_records_and_concatenate_on_axis_0(runtime: Runtime) -> None:
    arrays = [np.arange(12, dtype=np.int32).reshape(4, 3) + i for i in range(3)]
    ref = _write(runtime, gen(*arrays, np.zeros((0, 3), dtype=np.int32)))
    assert ref.materializer == "chunked_npy" and ref.uri.endswith(".npys")
    assert ref.metadata["shape"] == [12, 3] and ref.metadata["flowy_chunks"]["count"] == 3
    back = list(_chunks(runtime, ref, np.ndarray))
    for got, expected in zip(back, arrays, strict=True):
        np.testing.assert_array_equal(got, expected)
        assert got.flags.writeable
    whole = read_artifact(runtime.artifact_store, ref, runtime.materializers)
    np.testing.assert_array_equal(whole, np.concatenate(arrays))
    with pytest.raises(FlowyError, match="holds numpy.ndarray chunks"):
        next(_chunks(runtime, ref, pd.DataFrame))


def test_bad_chunks_are_clear_errors_and_leave_nothing(runtime: Runtime) -> None:
    def arrays_then(other: Any) -> Iterator[Any]:
        yield np.zeros((2, 3))
        yield other

    with pytest.raises(FlowyError, match=r"Chunk 1 of the stream has dtype int64 and rows of"):
        _write(runtime, arrays_then(np.zeros((2, 3), dtype=np.int64)), "a")
    with pytest.raises(FlowyError, match=r"Chunk 1 of the stream is a pandas"):
        _write(runtime, arrays_then(pd.DataFrame({"x": [1]})), "b")
    with pytest.raises(FlowyError, match="object-dtype array"):
        _write(runtime, gen(np.array([object()])), "c")
    with pytest.raises(FlowyError, match=r"yielded a builtins\.dict as its first chunk"):
        _write(runtime, gen({"x": 1}), "d")
    with pytest.raises(FlowyError, match="new columns \\['z'\\]"):
        _write(runtime, gen(pd.DataFrame({"x": [1]}), pd.DataFrame({"x": [1], "z": [2]})), "e")
    assert not [p for p in Path(runtime.artifact_store.root).rglob("*") if p.is_file()]


def test_an_all_missing_column_in_a_later_chunk_takes_the_first_chunks_type(
    runtime: Runtime,
) -> None:
    def chunks() -> Iterator[pd.DataFrame]:
        yield pd.DataFrame({"x": [1.0], "s": ["a"]})
        yield pd.DataFrame({"x": [2.0], "s": [None]})

    ref = _write(runtime, chunks())
    whole = read_artifact(runtime.artifact_store, ref, runtime.materializers)
    assert whole["s"].isna().tolist() == [False, True]


def test_which_parameters_want_an_iterator() -> None:
    def step(
        a: Iterator[pd.DataFrame],
        b: typing.Iterable[np.ndarray],
        c: collections.abc.Generator[pa.RecordBatch, None, None],
        d: Iterator[Any],
        e: collections.abc.Iterator,  # type: ignore[type-arg]
        f: pd.DataFrame,
        g: list[int],
        h: Iterator[NotImportableHere],  # type: ignore[name-defined]  # noqa: F821
        i: Any = None,
    ) -> None: ...

    wants = {name: wanted_chunk_type(step, name) for name in "abcdefghi"}
    assert wants == {
        "a": pd.DataFrame,
        "b": np.ndarray,
        "c": pa.RecordBatch,
        "d": None,
        "e": None,
        "f": NOT_ITERATOR,
        "g": NOT_ITERATOR,
        "h": None,
        "i": NOT_ITERATOR,
    }


def test_an_iterator_over_an_artifact_that_is_not_a_stream(runtime: Runtime) -> None:
    store, registry = runtime.artifact_store, runtime.materializers
    frame = write_artifact(store, "run/a/frame", "frame", pd.DataFrame({"x": [1, 2]}), registry)
    [only] = list(_chunks(runtime, frame))  # the whole object, once
    assert only["x"].tolist() == [1, 2]
    listed = write_artifact(store, "run/a/listed", "listed", [1, 2, 3], registry)
    assert list(_chunks(runtime, listed)) == [1, 2, 3]  # a list: its elements


def test_a_failed_write_behind_the_encoder_is_raised_in_the_step(tmp_path: Path) -> None:
    from flowy_materializers._chunks import WriteBehind

    target = open(tmp_path / "target", "wb")  # noqa: SIM115 - closed to make writes fail
    target.close()
    sink = WriteBehind(target)  # type: ignore[arg-type]
    sink.begin()
    sink.write(b"x" * 1000)
    sink.end()
    with pytest.raises(ValueError, match="closed file"):
        sink.finish()
    sink.close()
