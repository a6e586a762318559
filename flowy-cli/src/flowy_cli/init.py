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


def project_files(folder: Path) -> dict[Path, str]:
    """What ``init`` writes: path -> content."""
    templates = resources.files("flowy_cli.templates")
    return {
        folder / "pipeline.py": templates.joinpath("pipeline.py").read_text(),
        folder / "README.md": templates.joinpath("README.md").read_text(),
        folder / ".flowy" / ".gitignore": GITIGNORE,
    }


@click.command()
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite files that already exist.")
def init(directory: Path, force: bool) -> None:
    """Create a Flowy project in DIRECTORY (default: here) with an example pipeline."""
    from flowy.errors import FlowyError
    from rich.markup import escape

    from flowy_cli.output import console

    folder = directory.expanduser().resolve()
    files = project_files(folder)
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
    console().print(
        f"Created a Flowy project in [bold]{escape(str(folder))}[/].\n"
        f"Next:\n  {escape(where)}flowy run pipeline.py\n  flowy runs list"
    )
