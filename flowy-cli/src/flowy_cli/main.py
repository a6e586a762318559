"""The ``flowy`` entry point: a lazy click group and the error boundary.

``flowy --help`` must stay fast (well under 150 ms for the whole process), so
this module imports only click and the standard library. Each command lives
in its own module, named here by a ``"module:attribute"`` string and imported
only when that command is invoked. Plugin command groups (registered through
the ``flowy_register_commands`` hook) are listed from a small cache keyed by
the installed entry points (see :mod:`flowy_cli.discovery`) and imported only
when invoked.

:func:`main` is the single place where errors become exit codes: a
:class:`flowy.kernel.errors.FlowyError` or a click usage error prints one paragraph
(with a red ``Error:``) and exits 1 (usage errors 2); Ctrl-C exits 130; any
other exception goes to :mod:`flowy_cli.error_boundary`, which names an
environment fault (full disk, permission, damaged database) or a plugin's
fault (a missing module, a rejected option) and calls only the rest a bug.
A closed standard output (``flowy runs list | head -1``) ends the command
quietly with 141, as SIGPIPE ends other programs. ``--debug`` (or
``FLOWY_DEBUG=1``) shows the traceback in every case.
"""

from __future__ import annotations

import importlib
import os
import sys
import warnings
from collections.abc import Sequence
from typing import Any

import click

#: Built-in commands: name -> (import target, one-line help shown by --help).
BUILTIN_COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("flowy_cli.init:init", "Create a project with an example pipeline."),
    "run": ("flowy_cli.run:run", "Run a pipeline from a Python file."),
    "show": ("flowy_cli.show:show", "Show a pipeline's DAG (text, mermaid, dot, svg)."),
    "runs": ("flowy_cli.runs:runs", "List recorded runs and show one in detail."),
    "logs": ("flowy_cli.runs:logs", "Show the captured output of a run's steps."),
    "artifacts": ("flowy_cli.artifacts:artifacts", "List, show and trace artifacts' lineage."),
    "model": ("flowy_cli.models:model", "The model registry: versions, stages, rollback."),
    "experiment": ("flowy_cli.experiment:experiment", "Compare runs; best run; reports."),
    "stack": ("flowy_cli.stack:stack", "Register, inspect, switch and delete stacks."),
    "plugins": ("flowy_cli.plugins:plugins", "List installed plugins and their health."),
    "materializers": (
        "flowy_cli.materializers:materializers",
        "List materializers and show how a type resolves.",
    ),
    "plugin": ("flowy_cli.plugin_new:plugin", "Create a new plugin package (`plugin new`)."),
    "cache": ("flowy_cli.cache:cache", "Inspect, clear and explain the step cache."),
    "config": ("flowy_cli.config:config", "Show and change Flowy settings."),
    "gc": ("flowy_cli.gc:gc", "Delete temporary files, unreferenced artifacts, expired runs."),
    "alert": ("flowy_cli.alerts:alert", "Add, list, remove and test alert rules."),
    "alerts": ("flowy_cli.alerts:alerts", "Show alerts: firing first, with their run and link."),
    "circuits": ("flowy_cli.circuits:circuits", "List the circuit breakers of steps; reset them."),
    "monitor": ("flowy_cli.monitor:monitor", "Serve Prometheus metrics read from the store."),
    "doctor": ("flowy_cli.doctor:doctor", "Check the stack's health; rebuild a lost index."),
    "schedule": ("flowy_cli.schedule:schedule", "Add, list, pause and remove cron schedules."),
    "scheduler": ("flowy_cli.scheduler:scheduler", "Start scheduled runs when they come due."),
}


def import_target(target: str) -> Any:
    """Import ``"pkg.module:attr"`` and return the attribute."""
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)


class BrokenPipeAtTop(Exception):
    """A BrokenPipeError (its ``__cause__``) on its way to :func:`main`.

    click ends a command that hits EPIPE with a bare exit 1 and hides which
    pipe broke; this carries it past click, to be told apart there: our own
    output closed by its reader, or a pipe a plugin opened (a fault to report).
    """


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use.

    ``--help`` lists commands from :data:`BUILTIN_COMMANDS` and the cached
    plugin command list without importing any command module.
    """

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:  # `flowy --help | head -1`: help is printed while the context is made
            return super().make_context(info_name, args, parent, **extra)
        except BrokenPipeError as exc:
            raise BrokenPipeAtTop() from exc

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError as exc:
            raise BrokenPipeAtTop() from exc

    def _plugin_commands(self) -> dict[str, tuple[str, str]]:
        from flowy_cli.discovery import plugin_commands

        # "model serve" (two words) is a subcommand of a built-in group (flowy_cli/models.py).
        return {
            name: cmd
            for name, cmd in plugin_commands().items()
            if name not in BUILTIN_COMMANDS and " " not in name
        }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*BUILTIN_COMMANDS, *self._plugin_commands()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in BUILTIN_COMMANDS:
            command: click.Command = import_target(BUILTIN_COMMANDS[cmd_name][0])
            return command
        from flowy_cli.discovery import load_plugin_command

        return load_plugin_command(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_) for name, (_, help_) in sorted(BUILTIN_COMMANDS.items())]
        plugin_rows = [
            (name, help_) for name, (_, help_) in sorted(self._plugin_commands().items())
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)
        if plugin_rows:
            with formatter.section("Plugin commands"):
                formatter.write_dl(plugin_rows)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("flowy-cli")
    except PackageNotFoundError:
        return "unknown"


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"flowy {_version()}")
        ctx.exit(0)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the version and exit.",
)
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Flowy: machine-learning pipelines from plain Python functions.

    Start with `flowy init`, then `flowy run pipeline.py`.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def _debug_requested(args: Sequence[str]) -> bool:
    """``--debug`` before the command name, or FLOWY_DEBUG set (known even if parsing fails)."""
    if os.environ.get("FLOWY_DEBUG", "") not in ("", "0"):
        return True
    for arg in args:
        if arg == "--debug":
            return True
        if not arg.startswith("-"):
            return False
    return False


def _show_warning(*args: Any, **kwargs: Any) -> None:
    """Every command's warnings, through :func:`flowy_cli.output.show_warning` (escaped)."""
    from flowy_cli.output import show_warning

    show_warning(*args, **kwargs)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the CLI and turn every outcome into an exit code (see the module docstring)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = _debug_requested(args)
    warnings.showwarning = _show_warning
    try:
        result = cli.main(args=args, prog_name="flowy", standalone_mode=False)
        sys.stdout.flush()  # a reader gone away (`| head`) shows here, not at interpreter exit
    except KeyboardInterrupt:
        from flowy_cli.output import print_error

        print_error("Interrupted (Ctrl-C).", debug=debug, title="Aborted:")
        sys.exit(130)
    except click.exceptions.Abort as exc:
        from flowy_cli.output import print_error

        # click turns Ctrl-C into Abort; a declined confirmation is an Abort of its own.
        if isinstance(exc.__cause__ or exc.__context__, KeyboardInterrupt):
            print_error("Interrupted (Ctrl-C).", debug=debug, title="Aborted:")
            sys.exit(130)
        print_error("Nothing was changed.", debug=debug, title="Aborted:")
        sys.exit(1)
    except click.ClickException as exc:
        from flowy_cli.output import print_click_error

        print_click_error(exc, debug=debug)
        sys.exit(exc.exit_code)
    except (BrokenPipeError, BrokenPipeAtTop) as exc:
        from flowy_cli import error_boundary

        broken = exc.__cause__ if isinstance(exc, BrokenPipeAtTop) else exc
        if broken is not None and error_boundary.output_closed(broken):
            error_boundary.silence_output()  # nothing left to say, and nobody to read it
            sys.exit(error_boundary.CLOSED_PIPE_EXIT)
        sys.exit(error_boundary.report(broken or exc, debug=debug))
    except Exception as exc:  # noqa: BLE001 - the CLI's error boundary
        from flowy_cli.output import print_exception

        sys.exit(print_exception(exc, debug=debug))
    sys.exit(result if isinstance(result, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
