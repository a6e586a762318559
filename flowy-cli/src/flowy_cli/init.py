"""``flowy init [DIR]``: a ready project (``.flowy/``, an example pipeline, a README).

The example is a real pipeline a user can run at once with the local stack,
so the first thing they see is a run, its cache, and its records. Existing
files are never overwritten unless ``--force`` says so.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import click

GITIGNORE = """\
# Flowy's local stack: run metadata and artifacts (regenerate with `flowy run`).
metadata.db*
artifacts/
*.tmp-*
"""


#: ``--template`` name -> (folder under flowy_cli/templates, extras it needs).
TEMPLATES: dict[str, tuple[str, str]] = {
    "basic": ("", "numpy (installed with flowy-materializers)"),
    "sklearn": ("sklearn", "flowy-materializers[pandas,sklearn]"),
    "pytorch": ("pytorch", "flowy-materializers[torch]"),
    "tensorflow": ("tensorflow", "flowy-materializers[tensorflow]"),
}


def project_files(folder: Path, template: str = "basic") -> dict[Path, str]:
    """What ``init`` writes: path -> content."""
    root = resources.files("flowy_cli.templates")
    source = root.joinpath(TEMPLATES[template][0]) if TEMPLATES[template][0] else root
    return {
        folder / "pipeline.py": source.joinpath("pipeline.py").read_text(),
        folder / "README.md": source.joinpath("README.md").read_text(),
        folder / ".flowy" / ".gitignore": GITIGNORE,
    }


@click.command()
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--template",
    type=click.Choice(sorted(TEMPLATES)),
    default="basic",
    show_default=True,
    help="Example to start from: a numpy regression (basic), or a small model trained "
    "with scikit-learn, PyTorch or TensorFlow on data the pipeline generates.",
)
@click.option("--force", is_flag=True, help="Overwrite files that already exist.")
def init(directory: Path, template: str, force: bool) -> None:
    """Create a Flowy project in DIRECTORY (default: here) with an example pipeline."""
    from flowy.kernel.errors import FlowyError
    from rich.markup import escape

    from flowy_cli.output import console

    folder = directory.expanduser().resolve()
    files = project_files(folder, template)
    existing = [p for p in files if p.exists()]
    if existing and not force:
        names = ", ".join(str(p.relative_to(folder)) for p in existing)
        raise FlowyError(
            f"{folder} already has {names}; `flowy init` does not overwrite files. "
            "Use --force to replace them, or pick another folder."
        )
    for path, content in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    where = "" if folder == Path.cwd().resolve() else f"cd {folder}\n  "
    needs = TEMPLATES[template][1]
    console().print(
        f"Created a Flowy project ({template} template) in [bold]{escape(str(folder))}[/].\n"
        f"It needs {escape(needs)}.\n"
        f"Next:\n  {escape(where)}flowy run pipeline.py\n  flowy runs list"
    )
