"""The terminal-text escaper: nothing a terminal obeys gets through, nothing else changes."""

from __future__ import annotations

import re

from flowy_cli.terminal_text import escape_markup, escape_text, make_console
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console
from rich.text import Text

#: What a terminal may act on: C0 (tab and newline apart), DEL, C1, bidi controls,
#: line and paragraph separators, lone surrogates.
CONTROLS = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
    "\u2028\u2029\ud800-\udfff]"
)
ANY_TEXT = st.text(st.characters(codec=None, min_codepoint=0, max_codepoint=0x10FFFF))


@given(ANY_TEXT)
def test_no_control_character_survives(text: str) -> None:
    line = escape_text(text)
    assert not CONTROLS.search(line) and "\n" not in line and "\t" not in line
    block = escape_text(text, keep_lines=True)
    assert not CONTROLS.search(block)
    assert block.count("\n") == text.count("\n")  # CRLF becomes one newline


@given(ANY_TEXT.filter(lambda t: not CONTROLS.search(t) and "\n" not in t and "\t" not in t))
def test_printable_text_is_unchanged(text: str) -> None:
    assert escape_text(text) == text
    assert escape_text(text, keep_lines=True) == text


@given(ANY_TEXT)
def test_escaping_twice_changes_nothing(text: str) -> None:
    once = escape_text(text, keep_lines=True)
    assert escape_text(once, keep_lines=True) == once


def test_visible_forms() -> None:
    assert escape_text("a\x1b[2Jb\rc\x07\x9b\u202e\ud800") == r"a\x1b[2Jb\rc\x07\x9b\u202e\ud800"
    assert escape_text("one\r\ntwo\tthree", keep_lines=True) == "one\ntwo\tthree"
    assert escape_text("one\ntwo\tthree") == r"one\ntwo\tthree"
    assert escape_text(42) == "42"


@given(ANY_TEXT)
def test_markup_shows_the_text_and_obeys_none_of_it(text: str) -> None:
    """No rich markup (a [link=...] that becomes an OSC 8 sequence, a style) comes through."""
    rendered = Text.from_markup(f"[bold]{escape_markup(text)}[/]")  # as the commands use it
    assert rendered.plain == escape_text(text)
    assert all(str(span.style) == "bold" for span in rendered.spans)


def test_the_console_escapes_every_string_it_renders() -> None:
    console = make_console(file=None, force_terminal=False, width=200, record=True)
    console.print("title \x1b]0;pwned\x07", markup=False)
    console.print("[bold]x[/] \x1b[2J")
    out = console.export_text()
    assert "\x1b" not in out and "\x07" not in out
    assert r"title \x1b]0;pwned\x07" in out and r"x \x1b[2J" in out
    assert isinstance(console, Console)
