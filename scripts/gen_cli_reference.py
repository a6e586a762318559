"""Write docs/cli.md from the `flowy` command's own help texts.

``python scripts/gen_cli_reference.py`` rewrites the file;
``python scripts/gen_cli_reference.py --check`` exits 1 when it is stale (a test
runs that, so the reference never drifts from the code).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

OUT = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
HEADER = """# `flowy` command reference

Generated from the commands' own `--help` by `scripts/gen_cli_reference.py`;
do not edit by hand. Every command accepts `-h/--help`; global options go
before the command (`flowy --debug run ...`).

"""


def render(command: click.Command, path: list[str], ctx: click.Context) -> list[str]:
    name = " ".join(path)
    sub_ctx = command.make_context(path[-1], [], parent=ctx, resilient_parsing=True)
    lines = [f"{'#' * min(len(path) + 1, 4)} `{name}`", "", "```text"]
    lines += command.get_help(sub_ctx).replace(sub_ctx.command_path, name).splitlines()
    lines += ["```", ""]
    if isinstance(command, click.Group):
        for sub in command.list_commands(sub_ctx):
            child = command.get_command(sub_ctx, sub)
            if child is not None and not child.hidden:
                lines += render(child, [*path, sub], sub_ctx)
    return lines


def generate() -> str:
    # Document the first-party commands only, at a fixed width, whatever else is installed.
    os.environ["FLOWY_LOAD_PLUGINS"] = "flowy-executor-local,flowy-store-sqlite,flowy-materializers"
    os.environ["COLUMNS"] = "100"
    from flowy_cli.main import BUILTIN_COMMANDS, cli

    root = cli.make_context("flowy", [], resilient_parsing=True, terminal_width=100)
    lines = [HEADER.rstrip(), "", "```text", *cli.get_help(root).splitlines(), "```", ""]
    for name in sorted(BUILTIN_COMMANDS):
        command = cli.get_command(root, name)
        if command is not None:
            lines += render(command, ["flowy", name], root)
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    text = generate()
    if "--check" in sys.argv:
        if not OUT.exists() or OUT.read_text() != text:
            print(f"{OUT} is stale: run python scripts/gen_cli_reference.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
