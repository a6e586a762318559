"""The one escaper for text that reaches a terminal from a pipeline or a store.

Step names, parameter values, metric names, artifact names, error messages
and captured step output are written by users, by their libraries or by
whoever can edit a store. Written raw, an ``ESC`` byte starts an escape
sequence the terminal obeys (colours, cursor moves, clearing the screen,
setting the window title, OSC 8 links, even answer-back on old terminals), a
``CR`` or a backspace overwrites what was printed before it, and a Unicode
bidi override reverses the order in which the rest of the line is shown. So
every command shows such text through :func:`escape_text` (or
:func:`escape_markup` for rich markup): control characters become visible
escapes such as ``\\x1b``, ``\\r`` or ``\\u202e``, nothing else changes.

What is escaped: C0 controls (``\\x00``-``\\x1f``), ``DEL``, C1 controls
(``\\x80``-``\\x9f``, some terminals read ``\\x9b`` as CSI), the Unicode bidi
embeddings, overrides, isolates and marks, the line and paragraph separators,
and lone surrogates (undecodable file names; they would also make the encoder
raise). With ``keep_lines=True`` (log text, multi-line error messages, JSON
reports) newline and tab stay as they are and ``CRLF`` becomes a newline;
otherwise (names, values, table cells) they are escaped too, so one record is
one line. Backslashes are not doubled: the result is for reading, not for
parsing back (``--json`` is the exact form).

:func:`make_console` builds the CLI's consoles, which apply the same escaping
to every string they render, as a net under commands that print store text
without calling this module.
"""

from __future__ import annotations

import errno
import functools
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

_CONTROLS = (
    "\x00-\x08\x0b-\x1f\x7f-\x9f"  # C0 except tab and newline, DEL, C1
    "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"  # bidi marks, embeddings, overrides, isolates
    "\u2028\u2029"  # line and paragraph separators
    "\ud800-\udfff"  # lone surrogates
)
_LINE = re.compile(f"[\t\n{_CONTROLS}]")
_BLOCK = re.compile(f"\r\n|[{_CONTROLS}]")
_SHORT = {"\t": "\\t", "\n": "\\n", "\r": "\\r", "\r\n": "\n"}


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    short = _SHORT.get(char)
    if short is not None:
        return short
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_text(value: Any, *, keep_lines: bool = False) -> str:
    """``str(value)`` with every terminal control character shown as an escape.

    ``keep_lines`` keeps newlines and tabs (``CRLF`` becomes a newline) for
    multi-line text; without it they are escaped too, so the result is one line.
    """
    text = value if isinstance(value, str) else str(value)
    pattern = _BLOCK if keep_lines else _LINE
    if pattern.search(text) is None:  # the common case: no copy, no callback
        return text
    return pattern.sub(_visible, text)


def escape_markup(value: Any, *, keep_lines: bool = False) -> str:
    """:func:`escape_text`, then escaped for rich markup: safe inside ``console.print(f"...")``."""
    from rich.markup import escape

    return escape(escape_text(value, keep_lines=keep_lines))


def make_console(**options: Any) -> Console:
    """A rich console (``options`` as for ``rich.console.Console``) that escapes what it renders.

    Every string it renders goes through :func:`escape_text` (newlines and
    tabs kept): ``render_str`` is rich's one public door from a ``str`` (a
    printed string, a table cell, a tree label) to styled text, so this is a
    net under every command, including ones that print store text without
    calling this module. Rich's own styles and cursor moves are not strings
    and are untouched. rich is imported here, when a command first prints.
    """
    return _safe_console_class()(**options)


@functools.cache
def _safe_console_class() -> type[Console]:
    from rich.console import Console
    from rich.text import Text

    class SafeConsole(Console):
        def render_str(self, text: str, **kwargs: Any) -> Text:
            return super().render_str(escape_text(text, keep_lines=True), **kwargs)

        def on_broken_pipe(self) -> None:
            """The reader went away (``| head``); rich's default is ``SystemExit(1)``.

            On stdout, raise: whoever prints decides (``flowy run`` keeps running
            the pipeline; at the top :func:`flowy_cli.main.main` exits quietly).
            On stderr, go quiet: an error nobody can read must not replace the
            command's own exit code (2 for a usage error, 130 for Ctrl-C).
            """
            self.quiet = True
            if not self.stderr:
                raise BrokenPipeError(errno.EPIPE, "Broken pipe")

    return SafeConsole
