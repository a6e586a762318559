"""``flowy model predict``: a file of rows in, a Parquet file of predictions out, as a run.

Rows are read a batch at a time (a Parquet file by row groups and batches, a CSV
file by blocks, a ``.npy`` file memory-mapped), checked against the model's
schema like a ``/predict`` body, predicted and appended to the output with a
Parquet writer, so memory holds one batch whatever the file's size.

The run is recorded through the store's own contract, with two step runs:
``input`` produces the input file (copied into the artifact store, so the run
keeps what it read), and ``predict`` consumes the registered model version's
artifact and that file and produces the predictions (loadable as a frame). So
``flowy artifacts lineage`` leads from the predictions to the model and its
training data. The output file appears only when every row is written.
"""

from __future__ import annotations

import io
import os
import socket
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from flowy_serve.errors import InputError, ServeError
from flowy_serve.loading import ServedModel, load_from_store, parse_spec
from flowy_serve.predictors import check_method
from flowy_serve.schema import model_input

SUFFIXES = (".parquet", ".pq", ".csv", ".npy")


def read_batches(path: Path, batch_rows: int, frame_columns: list[str] | None) -> Iterator[Any]:
    """Payloads of at most ``batch_rows`` rows, as :func:`flowy_serve.schema.model_input` takes."""
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        import pyarrow as pa
        import pyarrow.parquet as pq

        with pq.ParquetFile(path) as parquet:
            for batch in parquet.iter_batches(batch_size=batch_rows):
                yield "table", pa.Table.from_batches([batch])
    elif suffix == ".csv":
        import pyarrow as pa
        from pyarrow import csv

        reader = csv.open_csv(path, read_options=csv.ReadOptions(block_size=1 << 22))
        pending: list[Any] = []
        count = 0
        for batch in reader:
            pending.append(batch)
            count += batch.num_rows
            if count >= batch_rows:
                yield "table", pa.Table.from_batches(pending)
                pending, count = [], 0
        if pending:
            yield "table", pa.Table.from_batches(pending)
    elif suffix == ".npy":
        import numpy as np

        array = np.load(path, mmap_mode="r", allow_pickle=False)
        for start in range(0, len(array), batch_rows):
            chunk = np.asarray(array[start : start + batch_rows])
            if frame_columns is not None:
                import pyarrow as pa

                yield "table", pa.table(dict(zip(frame_columns, chunk.T, strict=True)))
            else:
                yield "inputs", chunk
    else:
        raise ServeError(
            f"{path.name}: cannot read {suffix or 'a file without a suffix'}; "
            f"give a {', '.join(SUFFIXES)} file"
        )


def _prediction_table(predictions: Any, classes: list[Any] | None) -> Any:
    import pyarrow as pa

    from flowy_serve.codecs import encode

    return pa.ipc.open_stream(encode(predictions, "arrow", classes=classes)).read_all()


def predict_file(
    model: str,
    input_path: Path,
    output_path: Path,
    *,
    method: str = "predict",
    batch_rows: int = 65536,
    stack: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Predict ``input_path`` into ``output_path`` and record the run; returns its facts."""
    from flowy.kernel.records import RunRecord, StepRunRecord
    from flowy.tracking import Client

    if input_path.suffix.lower() not in SUFFIXES:
        raise ServeError(f"{input_path}: give a {', '.join(SUFFIXES)} file of rows")
    if output_path.suffix.lower() not in (".parquet", ".pq"):
        raise ServeError(f"{output_path}: predictions are written as Parquet; name it *.parquet")
    spec = parse_spec(model)
    with Client(stack=stack) as client:
        served = load_from_store(spec, client=client)
        check_method_or_fail(served, method)
        store = client.store
        run_id = uuid.uuid4().hex
        name = served.info["name"]
        params = {"model": name, "version": served.version, "input": str(input_path),
                  "method": method, "batch_rows": batch_rows}  # fmt: skip
        started = time.time()
        run = RunRecord(
            run_id=run_id, pipeline=f"predict-{name}", status="running", params=params,
            stack={"name": client.stack_name}, started_at=started, pid=os.getpid(),
            host=socket.gethostname(), environment={"python": sys.version.split()[0]},
        )  # fmt: skip
        store.create_run(run)
        try:
            rows = _write_predictions(served, input_path, output_path, method, batch_rows, progress)
            data_ref = _store_file(client, run_id, "input", "data", input_path, None)
            pred_ref = _store_file(client, run_id, "predict", "predictions", output_path, rows)
        except BaseException as exc:
            store.record_step(
                StepRunRecord(
                    run_id=run_id,
                    step="predict",
                    status="failed",
                    started_at=started,
                    finished_at=time.time(),
                    attempts=1,
                    error=str(exc),
                    error_type=type(exc).__name__,
                    params=params,
                )
            )
            store.finish_run(run_id, "failed", time.time())
            raise
        now = time.time()
        store.record_step(
            StepRunRecord(run_id=run_id, step="input", status="completed", started_at=started,
                          finished_at=now, attempts=1, outputs={"data": data_ref.artifact_id}),
            [data_ref],
        )  # fmt: skip
        store.record_step(
            StepRunRecord(
                run_id=run_id, step="predict", status="completed", started_at=started,
                finished_at=now, attempts=1, params=params,
                inputs={"model": served.info["artifact_id"], "data": data_ref.artifact_id},
                outputs={"predictions": pred_ref.artifact_id},
            ),
            [pred_ref],
        )  # fmt: skip
        store.finish_run(run_id, "completed", now)
    return {"run_id": run_id, "rows": rows, "model": name, "version": served.version,
            "predictions": pred_ref.artifact_id}  # fmt: skip


def check_method_or_fail(served: ServedModel, method: str) -> None:
    try:
        check_method(served.predictor, method)
    except InputError as exc:
        raise ServeError(str(exc)) from None


def _write_predictions(  # noqa: PLR0917 - one private call site
    served: ServedModel, source: Path, target: Path, method: str, batch_rows: int,
    progress: Callable[[int], None] | None,
) -> int:  # fmt: skip
    """Every batch predicted into a temporary file, renamed to ``target`` at the end."""
    import pyarrow.parquet as pq

    schema = served.schema
    columns = schema["columns"] if schema and schema.get("kind") == "frame" else None
    classes = None
    if method == "predict_proba":
        classes = getattr(served.predictor, "classes", lambda: None)()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    writer = None
    rows = 0
    try:
        for number, payload in enumerate(read_batches(source, batch_rows, columns)):
            try:
                inputs = model_input(payload, schema)
                table = _prediction_table(served.call(inputs, method), classes)
            except InputError as exc:
                raise ServeError(
                    f"{source.name}, rows {rows}-{rows + batch_rows - 1} (batch {number}): {exc}"
                ) from None
            if writer is None:
                writer = pq.ParquetWriter(partial, table.schema)
            writer.write_table(table)
            rows += table.num_rows
            if progress is not None:
                progress(rows)
        if writer is None:
            raise ServeError(f"{source}: the file holds no rows to predict")
        writer.close()
        writer = None
        os.replace(partial, target)
    finally:
        if writer is not None:
            writer.close()
        partial.unlink(missing_ok=True)
    return rows


def _store_file(  # noqa: PLR0917 - one private call site
    client: Any, run_id: str, step: str, name: str, path: Path, rows: int | None
) -> Any:
    """Copy ``path`` into the run's artifact store (hashed, with a sidecar) as ``step/name``.

    The predictions are recorded as written by the pandas materializer (the file is a
    Parquet table, so ``Client.load`` returns a frame); the input as a plain file.
    """
    import pyarrow.parquet as pq
    from flowy.artifacts import CHUNK, WRITE_BUFFER, HashingWriter, write_with_sidecar
    from flowy.kernel.records import ArtifactRef

    store = client.artifact_store
    suffix = path.suffix.lower()
    uri = store.uri_for(f"{run_id}/{step}/{name}{suffix}")
    if rows is None:
        kind = ("file", "1", "builtins.bytes")
        metadata: dict[str, Any] = {"logged": True, "filename": path.name}
    else:
        arrow_schema = pq.read_schema(path)
        kind = ("pandas", "1", "pandas.DataFrame")
        metadata = {
            "kind": "frame", "rows": rows, "columns": arrow_schema.names,
            "n_columns": len(arrow_schema.names),
            "dtypes": {f.name: str(f.type.to_pandas_dtype().__name__) for f in arrow_schema},
            "flowy_materializer_distribution": "flowy-materializers",
        }  # fmt: skip
    with store.open_write(uri) as raw, path.open("rb") as src, HashingWriter(raw) as writer:
        buffered = io.BufferedWriter(writer, buffer_size=WRITE_BUFFER)
        while chunk := src.read(CHUNK):
            buffered.write(chunk)
        buffered.flush()
        ref = ArtifactRef(
            name=name, uri=uri, checksum=writer.checksum(), size=writer.size,
            materializer=kind[0], materializer_version=kind[1], type_name=kind[2],
            metadata=metadata, artifact_id=uuid.uuid4().hex,
        )  # fmt: skip
        write_with_sidecar(store, ref, None)
    return ref
