"""``flowy show FILE.py``: a pipeline's DAG without running it.

The text view lists the steps by generation with what each takes (inputs,
parameters with their default values) and makes; ``--format mermaid|dot|svg``
writes a diagram for docs, Graphviz or a browser (the SVG is drawn by
:mod:`flowy.run.dag_view`, no Graphviz needed).
"""

from __future__ import annotations

from pathlib import Path

import click

from flowy_cli.common import output_option, write_output


@click.command()
@click.argument("target", metavar="FILE.py[:PIPELINE]")
@click.option(
    "--format", "-f", "fmt", default="text", show_default=True,
    type=click.Choice(["text", "mermaid", "dot", "svg"]),
    help="text: steps by generation; mermaid, dot or svg: a diagram.",
)  # fmt: skip
@output_option
def show(target: str, fmt: str, output: Path | None) -> None:
    """Show the DAG of the pipeline in FILE.py without running it."""
    from flowy.run import load_pipeline
    from flowy.run import render_dag as render

    # Parameter values come from the user's file: write_output escapes them on stdout.
    write_output(render(load_pipeline(target), fmt) + "\n", output)
