"""``flowy model serve | predict | package``: flowy-serve's commands in the ``flowy model`` group.

Registered through ``flowy_register_commands`` as ``"model serve"`` and so on;
flowy-cli's ``model`` group lists them from its plugin command cache and
imports this module only when one of them runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from flowy_serve.server import ServeOptions

_MODEL_HELP = "NAME (its production version), NAME@STAGE, or NAME:VERSION."


@click.command("serve")
@click.argument("model", metavar="MODEL")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; any but loopback needs --token.",
)
@click.option(
    "--port",
    "-p",
    default=8000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port (0 picks a free one; the chosen port is printed).",
)
@click.option(
    "--workers",
    "-w",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Server processes; each loads the model.",
)
@click.option(
    "--token",
    metavar="{env:NAME}",
    help="Require Authorization: Bearer TOKEN, the token read from environment variable NAME.",
)
@click.option(
    "--max-body",
    default="64MiB",
    show_default=True,
    metavar="SIZE",
    help="Largest request body (e.g. 512KiB, 64MiB); larger ones get 413.",
)
@click.option(
    "--poll-interval",
    default=1.0,
    show_default=True,
    type=click.FloatRange(0.05),
    help="Seconds between registry checks when following a stage.",
)
@click.option(
    "--no-follow", is_flag=True, help="Keep serving the loaded version even if the stage moves."
)
@click.option("--access-log", is_flag=True, help="Log every request (off: it costs throughput).")
@click.option(
    "--from-dir",
    "directory",
    type=click.Path(exists=True, file_okay=False),
    help="Serve a folder written by `flowy model package` (no project store needed).",
)
@click.option(
    "--batch-max-rows",
    default=0,
    show_default=True,
    type=click.IntRange(0),
    help="Micro-batching: gather concurrent small JSON requests into one model call of up "
    "to N rows (0: off).",
)
@click.option(
    "--batch-wait-ms",
    default=1.0,
    show_default=True,
    type=click.FloatRange(0, 1000),
    help="How long a batch waits for more requests when none are queued.",
)
@click.option("--stack", "-s", metavar="NAME", help="Read the model from this stack's store.")
def serve(  # noqa: PLR0917 - click passes options as arguments
    model: str, host: str, port: int, workers: int, token: str | None, max_body: str,
    poll_interval: float, no_follow: bool, access_log: bool, directory: str | None,
    batch_max_rows: int, batch_wait_ms: float, stack: str | None,
) -> None:  # fmt: skip
    """Serve MODEL over HTTP: POST /predict, GET /health, /metadata, /metrics.

    MODEL is NAME (its production version), NAME@STAGE or NAME:VERSION. A stage
    is followed: when another version is promoted or rolled back, the server
    loads it beside the old one and switches without failing a request.
    /predict takes JSON ({"inputs": [[...]]} or {"records": [{...}]}), Arrow IPC
    or Parquet, checked against the model's recorded inputs (422 names what is
    wrong). Pickled models are refused. See docs/serving.md.
    """
    from flowy_serve.server import run

    options = ServeOptions(
        model=model, host=host, port=port, workers=workers, stack=stack, token=token,
        max_body=parse_size(max_body), poll_interval=poll_interval, follow=not no_follow,
        access_log=access_log, directory=directory, batch_max_rows=batch_max_rows,
        batch_wait_ms=batch_wait_ms,
    )  # fmt: skip
    run(options, echo=click.echo)


def parse_size(text: str) -> int:
    """``"64MiB"`` -> bytes; plain numbers are bytes."""
    units = {"": 1, "b": 1, "kb": 1000, "kib": 1024, "mb": 1000**2, "mib": 1024**2,
             "gb": 1000**3, "gib": 1024**3}  # fmt: skip
    number = text.strip().lower().rstrip()
    digits = number.rstrip("abcdefghijklmnopqrstuvwxyz").strip()
    unit = number[len(digits) :].strip()
    try:
        value = float(digits) * units[unit]
    except (ValueError, KeyError):
        raise click.BadParameter(f"{text!r} is not a size (e.g. 512KiB, 64MiB, 1000000)") from None
    if value < 1:
        raise click.BadParameter(f"{text!r}: the limit must be at least one byte")
    return int(value)


@click.command("predict")
@click.argument("model", metavar="MODEL")
@click.option(
    "--input",
    "-i",
    "input_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A .parquet, .csv or .npy file of rows.",
)
@click.option(
    "--output",
    "-o",
    "output_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the predictions (.parquet).",
)
@click.option("--method", default="predict", show_default=True, help="predict, predict_proba, ...")
@click.option(
    "--batch-rows",
    default=65536,
    show_default=True,
    type=click.IntRange(1),
    help="Rows read, predicted and written at a time (memory stays bounded).",
)
@click.option(
    "--stack", "-s", metavar="NAME", help="Use this stack (model, run record, artifacts)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the run's facts as JSON.")
def predict(  # noqa: PLR0917 - click passes options as arguments
    model: str, input_path: Path, output_path: Path, method: str, batch_rows: int,
    stack: str | None, as_json: bool,
) -> None:  # fmt: skip
    """Predict every row of a file with MODEL, in batches, as a recorded Flowy run.

    The run (pipeline `predict-NAME`) records the model version's artifact and the
    input file as its inputs and the predictions as its output, so
    `flowy artifacts lineage` leads from the predictions back to the model and its
    training data. Inputs larger than memory work: rows are read in batches.
    """
    from flowy_serve.batch import predict_file

    result = predict_file(
        model, input_path, output_path, method=method, batch_rows=batch_rows, stack=stack,
        progress=lambda done: click.echo(f"  {done} rows predicted", err=True),
    )  # fmt: skip
    if as_json:
        click.echo(json.dumps(result))
        return
    click.echo(
        f"Wrote {result['rows']} predictions of {result['model']} v{result['version']} to "
        f"{output_path} (run {result['run_id'][:12]})."
    )


@click.command("package")
@click.argument("model", metavar="MODEL")
@click.option(
    "--out",
    "-o",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The folder to write (new or empty).",
)
@click.option("--stack", "-s", metavar="NAME", help="Read the model from this stack's store.")
def package(model: str, out: Path, stack: str | None) -> None:
    """Write a container build context that serves MODEL without the project's store.

    The folder holds the model's files (checksum-verified), its facts, a
    requirements file pinned to the training run's recorded versions, wheels of
    Flowy's own distributions when they are not from an index, and a Dockerfile
    that runs `flowy model serve NAME --from-dir /model` on port 8000 (with a
    token from FLOWY_SERVE_TOKEN). Without Docker, install the requirements into
    a virtual environment and run that command in the folder.
    """
    from flowy_serve.package import package as write_package

    result = write_package(model, out, stack=stack, say=lambda line: click.echo(line, err=True))
    click.echo(
        f"Wrote a build context for {result['name']} v{result['version']} to {out}: "
        f"docker build -t {result['name'].lower()} {out}"
    )
