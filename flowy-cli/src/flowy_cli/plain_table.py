"""The CLI's table: rich columns in a terminal, one plain line per record when piped.

A rich table wraps cells at the console's width (80 columns when stdout is a
pipe), so an id or a plugin name split over two lines defeats ``grep`` and
cannot be copied. Piped, a table is written as aligned plain text: a header
line, then exactly one line per row, no box characters, no wrapping and no
cropping (a multi-line cell is joined with ``" | "``). In a terminal it is a
rich table whose id and name columns are never wrapped.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from rich.cells import cell_len
from rich.markup import render as render_markup
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions


class FlowyTable(Table):
    """A rich :class:`~rich.table.Table` that renders as plain rows when ``plain``."""

    def __init__(
        self, *args: Any, plain: bool = False, ids: Collection[str] = (), **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.plain = plain
        self.ids = ids

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Any]:
        if not self.plain:
            fit_widths(self, options.max_width)
            yield from super().__rich_console__(console, options)
            return
        for line in plain_lines(self):
            yield Segment(line)
            yield Segment.line()


def cell_text(cell: Any, joiner: str = " | ") -> str:
    """A cell's words without markup, its lines joined by ``joiner``."""
    from flowy_cli.terminal_text import escape_text

    if isinstance(cell, str):  # escaped like every string the CLI's console renders
        text = render_markup(escape_text(cell, keep_lines=True)).plain
    elif isinstance(cell, Text):
        text = escape_text(cell.plain, keep_lines=True)
    else:
        text = escape_text(cell, keep_lines=True)
    return joiner.join(part.strip() for part in text.splitlines() if part.strip())


def plain_lines(t: Table) -> list[str]:
    """The title, the header and one line per row, columns aligned, no trailing blanks."""
    columns = t.columns
    grid = [[cell_text(c.header) for c in columns]]
    grid += [
        [cell_text(cell) for cell in row] for row in zip(*(c._cells for c in columns), strict=True)
    ]
    widths = [max(cell_len(row[i]) for row in grid) for i in range(len(columns))]
    lines = [cell_text(t.title)] if t.title else []
    for row in grid:
        padded = [cell + " " * (widths[i] - cell_len(cell)) for i, cell in enumerate(row)]
        lines.append("  ".join(padded).rstrip())
    return lines


def fit_widths(t: FlowyTable, max_width: int, floor: int = 3) -> None:
    """Give each column a width so the table fits ``max_width`` without narrowing an id.

    Rich's last resort for a too-wide table narrows every column evenly, ids
    included (``ead7c…``). Here id columns keep their whole width and the
    widest other column gives way first, down to ``floor``; a table that
    cannot fit even so is left to rich.
    """
    columns = t.columns
    rows = [[c.header, *c._cells] for c in columns]
    natural = [
        max(
            (cell_len(line) for cell in cells for line in cell_text(cell, " \n").split("\n")),
            default=1,
        )
        for cells in rows
    ]
    room = max_width - 3 * (len(columns) - 1)  # " │ " between columns, no outer edge
    widths = list(natural)
    fixed = [c.header in t.ids for c in columns]
    lowest = [w if f else min(w, floor) for w, f in zip(natural, fixed, strict=True)]
    if sum(lowest) > room or sum(widths) <= room:
        return
    while sum(widths) > room:
        i = max(range(len(widths)), key=lambda k: widths[k] - lowest[k])
        widths[i] -= 1
    for column, width in zip(columns, widths, strict=True):
        column.width = width


def make_table(
    columns: Sequence[str],
    *,
    title: str | None,
    whole: Collection[str],
    ids: Collection[str],
    plain: bool,
) -> FlowyTable:
    """The table :func:`flowy_cli.output.table` hands out (see there)."""
    t = FlowyTable(
        title=title, show_edge=False, header_style="bold", pad_edge=False, plain=plain, ids=ids
    )
    for column in columns:
        if column in whole:
            t.add_column(column, no_wrap=True, overflow="ellipsis")
        else:
            t.add_column(column, overflow="fold")
    return t
