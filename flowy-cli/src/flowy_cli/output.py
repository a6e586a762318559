"""Rendering: rich tables and colours for people, plain JSON for programs, errors for both.

Every command prints through these helpers so that the look is the same
everywhere and ``--json`` output is always valid JSON on stdout with nothing
else mixed in. Errors go to stderr.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import time
import traceback
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    import click
    from rich.console import Console
    from rich.table import Table

#: Colour of each run / step status.
STATUS_STYLES = {
    "completed": "green",
    "cached": "cyan",
    "running": "yellow",
    "pending": "dim",
    "failed": "red",
    "timed_out": "red",
    "crashed": "red",
    "cancelled": "magenta",
    "skipped": "dim",
    "fallback": "yellow",
    "loaded": "green",
    "disabled": "dim",
}


#: ``flowy run``'s own stdout and stderr while it runs steps (see :func:`own_descriptors`).
_own: tuple[TextIO, TextIO] | None = None


@cache
def console() -> Console:
    """The stdout console. It writes to whatever ``sys.stdout`` is when it prints, or,
    while ``flowy run`` runs steps, to the run's own stdout (:func:`own_descriptors`).

    Every string it renders is escaped by :mod:`flowy_cli.terminal_text`."""
    from flowy_cli.terminal_text import make_console

    # Piped: no wrapping and no cropping at 80 columns, so one record stays one line.
    file = _own[0] if _own is not None else None
    console: Console = make_console(highlight=False, soft_wrap=plain_stdout(), file=file)
    return console


def stdout() -> TextIO:
    """Where the command's own output goes: ``sys.stdout``, or ``flowy run``'s own stdout."""
    return _own[0] if _own is not None else sys.stdout


@contextlib.contextmanager
def own_descriptors() -> Iterator[None]:
    """For ``flowy run``: the command's output keeps its terminal while steps' output is captured.

    While a step runs in this process its output is captured (flowy.run's native
    output): descriptors 1 and 2 point at a file, and ``sys.stdout`` and
    ``sys.stderr`` at the step's log. The run's progress, warnings and summary
    must still reach the terminal, including what is printed while a step runs
    (the spinner, a step settling in a worker meanwhile). So ``sys.stdout`` and
    ``sys.stderr`` become streams on duplicates of descriptors 1 and 2 taken
    now, before any step runs, and :func:`console`, :func:`err_console` and
    :func:`stdout` write to them by name, not to whatever ``sys.stdout`` is
    when they print. All is put back afterwards. Streams that are not
    descriptors 1 and 2 (click's test runner, pytest's capture) are left alone.
    """
    global _own  # one command at a time
    originals = (sys.stdout, sys.stderr)
    owned = [_duplicate(stream, fd) for stream, fd in zip(originals, (1, 2), strict=True)]
    if _own is not None or owned[0] is None or owned[1] is None:
        for stream in owned:
            if stream is not None:
                stream.close()
        yield
        return
    sys.stdout, sys.stderr = _own = (owned[0], owned[1])
    console.cache_clear()
    err_console.cache_clear()
    try:
        yield
    finally:
        sys.stdout, sys.stderr = originals
        _own = None
        console.cache_clear()
        err_console.cache_clear()
        for stream in owned:
            assert stream is not None
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
            with contextlib.suppress(OSError, ValueError):
                stream.close()


def _duplicate(stream: TextIO | None, fd: int) -> TextIO | None:
    """A text stream like ``stream`` on a duplicate of ``fd``, if ``stream`` writes to ``fd``."""
    if not isinstance(stream, io.TextIOWrapper):
        return None
    try:
        if stream.fileno() != fd:
            return None
        stream.flush()
        copy = os.dup(fd)
    except (OSError, ValueError):
        return None
    return io.TextIOWrapper(
        open(copy, "wb"),  # closed by own_descriptors
        encoding=stream.encoding,
        errors=stream.errors,
        line_buffering=stream.line_buffering,
        write_through=stream.write_through,
    )


def plain_stdout() -> bool:
    """Whether stdout gets plain text: not a terminal, and no ``FORCE_COLOR`` asks for colour.

    Then rich would print no colour or control codes anyway, so commands on hot
    paths (``flowy run``'s summary) write the same words directly and skip
    importing rich (about 40 ms).
    """
    return not sys.stdout.isatty() and not os.environ.get("FORCE_COLOR")


@cache
def err_console() -> Console:
    """The stderr console (errors, warnings), escaping like :func:`console`."""
    from flowy_cli.terminal_text import make_console

    file = _own[1] if _own is not None else None
    console: Console = make_console(stderr=True, highlight=False, file=file)
    return console


def print_json(data: Any) -> None:
    """Write ``data`` as indented, standard JSON (non-JSON values as their ``str``).

    NaN and ±inf (a diverged loss is a real metric) have no JSON form and a bare
    ``NaN`` is refused by strict parsers: they are written as the strings
    ``"NaN"``, ``"Infinity"`` and ``"-Infinity"`` (:func:`flowy.kernel.records.standard_json`).
    """
    try:
        text = json.dumps(data, indent=2, default=str, allow_nan=False)
    except ValueError:  # a non-finite float somewhere: the rare case pays for a second pass
        from flowy.kernel.records import standard_json

        text = json.dumps(standard_json(data), indent=2, default=str, allow_nan=False)
    sys.stdout.write(text + "\n")


def styled_status(status: str) -> str:
    from flowy_cli.terminal_text import escape_markup

    style = STATUS_STYLES.get(status, "")
    return f"[{style}]{escape_markup(status)}[/]" if style else escape_markup(status)


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.2f} s"
    return f"{seconds / 60:.1f} min"


def fmt_time(timestamp: float | None) -> str:
    if not timestamp:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp))


#: Column headers whose cells are ids or names: never broken across lines in a terminal
#: (a broken id cannot be copied); the other columns fold or are shortened instead.
WHOLE_COLUMNS = frozenset({
    "run", "artifact", "id", "name", "plugin", "pipeline", "step", "model", "experiment",
    "version", "component", "setting", "materializer", "metric", "parameter", "",
})  # fmt: skip


#: Column headers whose cells are ids: kept whole even when names must be shortened.
ID_COLUMNS = frozenset({"run", "artifact", "id"})


def table(*columns: str, title: str | None = None, whole: Sequence[str] = ()) -> Table:
    """A table for :func:`console`: rich columns in a terminal, plain rows when piped.

    In a terminal, columns named in :data:`WHOLE_COLUMNS` or ``whole`` (ids and
    names) are never wrapped; the others fold. Piped (:func:`plain_stdout`),
    each row is one line of aligned plain text, full width, with no box
    characters, so ``flowy plugins | grep NAME`` finds whole records.
    """
    from flowy_cli.plain_table import make_table

    return make_table(
        columns,
        title=title,
        whole=WHOLE_COLUMNS | set(whole),
        ids=ID_COLUMNS,
        plain=plain_stdout(),
    )


def short_id(full_id: str, length: int = 12) -> str:
    """An id as tables show it: a unique-enough prefix in a terminal, the whole id when piped."""
    return full_id if plain_stdout() else full_id[:length]


def print_table(
    columns: Sequence[str], rows: Iterable[Sequence[str]], *, empty: str, whole: Sequence[str] = ()
) -> None:
    """A table (:func:`table`) of already-marked-up cells, or ``empty`` when there are no rows."""
    t = table(*columns, whole=whole)
    count = 0
    for row in rows:
        t.add_row(*row)
        count += 1
    if count:
        console().print(t)
    else:
        console().print(f"[dim]{empty}[/]")


def print_mapping(title: str, data: Mapping[str, Any], indent: int = 2) -> None:
    """``title`` then one ``key: value`` line per item (nested mappings indented).

    Keys and values are escaped (:func:`flowy_cli.terminal_text.escape_markup`): one line each.
    """
    from flowy_cli.terminal_text import escape_markup as escape

    out = console()
    out.print(f"[bold]{escape(title)}[/]" if title else "")
    if not data:
        out.print(" " * indent + "[dim](none)[/]")
    for key, value in data.items():
        if isinstance(value, Mapping):
            out.print(" " * indent + f"{escape(str(key))}:")
            for k2, v2 in value.items():
                out.print(" " * (indent + 2) + f"{escape(str(k2))}: {escape(_short(v2))}")
        else:
            out.print(" " * indent + f"{escape(str(key))}: {escape(_short(value))}")


def _short(value: Any, limit: int = 200) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- errors ---------------------------------------------------------------


def print_error(message: str, *, debug: bool = False, title: str = "Error:") -> None:
    """One paragraph on stderr: red title, then the message (never parsed as markup).

    The message may quote names and values from a pipeline or a store: its
    control characters are escaped (newlines kept, for multi-line messages).
    """
    from rich.text import Text

    from flowy_cli.terminal_text import escape_text

    text = Text()
    text.append(title, style="bold red")
    text.append(" " + escape_text(message.strip(), keep_lines=True))
    err_console().print(text)
    if debug and sys.exc_info()[0] is not None:
        err_console().print(traceback.format_exc(), markup=False, highlight=False)


def show_warning(  # noqa: PLR0917 - the warnings.showwarning signature
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """A warning (uncacheable input, a plugin raising, a malformed cache entry) as one
    yellow line on stderr, escaped: it may quote a plugin's, a pipeline's or a store's words."""
    from rich.text import Text

    from flowy_cli.terminal_text import escape_text

    text = escape_text(message, keep_lines=True)
    err_console().print(Text.assemble(("Warning: ", "bold yellow"), text))


def print_click_error(exc: click.ClickException, *, debug: bool = False) -> None:
    """A usage error: the command's usage line, the message and where to get help."""
    import click as _click

    ctx = getattr(exc, "ctx", None)
    message = exc.format_message()
    if isinstance(exc, _click.UsageError) and ctx is not None:
        hint = f" Try '{ctx.command_path} {ctx.help_option_names[0]}' for help."
        err_console().print(ctx.get_usage(), markup=False, highlight=False)
        message = message.rstrip(".") + "." + hint
    print_error(message, debug=debug)


def print_exception(exc: BaseException, *, debug: bool = False) -> int:
    """Print an exception that reached the top; return the exit code.

    :mod:`flowy_cli.error_boundary` tells environment faults and plugins' faults from bugs.
    """
    from flowy_cli.error_boundary import report

    return report(exc, debug=debug)
