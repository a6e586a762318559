r"""The runs filter language: parse text into a :mod:`flowy.kernel.run_query` tree and back.

Used by the web UI's runs list (``GET /api/v1/runs?q=...``) and ``flowy runs list
--filter``. The grammar::

    query      := or_expr?                      (empty: every run)
    or_expr    := and_expr (("or" | "OR") and_expr)*
    and_expr   := unary (("and" | "AND")? unary)*   (terms side by side are ANDed)
    unary      := "(" or_expr ")" | term
    term       := field op value
    field      := status | pipeline | experiment | stack | run | started | duration
                | params.<name> | metrics.<name>
    op         := ":" | "=" | "!=" | ">" | ">=" | "<" | "<="   (":" and "=" are equality)
    value      := item | "(" item ("," item)* ")"  (IN: equality only)
                | item ".." item                   (inclusive range: equality only, numbers)
    item       := "quoted \"text\"" | bare         (bare: no space, parenthesis, comma or quote)

AND binds tighter than OR: ``status:failed or status:crashed pipeline:train`` is
``failed OR (crashed AND train)``. Examples::

    status:failed pipeline:train metrics.r2>0.9 params.alpha=0.1
    status:(failed,crashed) or duration>3600
    metrics.r2:0.5..0.9 pipeline:"my pipe" started>=2026-12-01
    run:3f2a (experiment:baseline or params.optimizer=adam)

Values: ``metrics.*`` and ``duration`` (seconds) take numbers (``inf`` too);
``started`` takes seconds since the epoch or an ISO date / date-time (UTC unless
it says otherwise; ``started:2026-12-07`` is that whole day); ``params.*`` take a
number, or text (quote it to keep a number-like value text); text fields take
text, and ``run:`` matches an id prefix. Comparisons with ``>``/``<`` and ranges on
parameters need numbers. Anything else is a :class:`QueryError` that names the
character where it went wrong and what was expected.
"""

from __future__ import annotations

import datetime as dt
import re

from flowy.kernel.errors import FlowyError
from flowy.kernel.run_query import (
    FIELDS,
    And,
    Comparison,
    Expr,
    InList,
    Or,
    Range,
    Sort,
    Value,
    field_kind,
)

__all__ = ["QueryError", "parse", "parse_sort", "render"]

#: Nesting deeper than this is refused (and keeps the parser's recursion bounded).
MAX_DEPTH = 32
#: Longer filters are refused up front.
MAX_LENGTH = 4096

_NAME = re.compile(r"[^\s()\",:=!<>]+")
_BARE = re.compile(r"[^\s(),\"]+")
_NUMBER = re.compile(r"[-+]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|inf)")
_OPS = (">=", "<=", "!=", ":", "=", ">", "<")
_KEYWORDS = ("or", "and")
_DAY = 86400.0


class QueryError(FlowyError):
    """A filter or sort the runs list cannot read; ``position`` is the 0-based offset."""

    def __init__(self, message: str, position: int = 0) -> None:
        super().__init__(message)
        self.position = position


def _fields_hint() -> str:
    return ", ".join(FIELDS) + ", params.<name> or metrics.<name>"


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.depth = 0

    # -- helpers ------------------------------------------------------------

    def fail(self, expected: str, at: int | None = None) -> QueryError:
        at = self.pos if at is None else at
        rest = self.text[at : at + 20]
        found = f"{rest!r}" if rest else "the end"
        return QueryError(
            f"Bad filter at character {at + 1}: expected {expected}, found {found}.", at
        )

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self) -> str:
        self.skip_space()
        return self.text[self.pos : self.pos + 1]

    def keyword(self, word: str) -> bool:
        """Consume ``word`` (any case of it as written: lower or upper) when it is next."""
        self.skip_space()
        end = self.pos + len(word)
        chunk = self.text[self.pos : end]
        if chunk in (word, word.upper()) and (
            end == len(self.text) or not _NAME.match(self.text, end)
        ):
            self.pos = end
            return True
        return False

    # -- grammar ------------------------------------------------------------

    def query(self) -> Expr | None:
        if not self.peek():
            return None
        expr = self.or_expr()
        if self.peek():
            raise self.fail("a field, 'or', or the end")
        return expr

    def or_expr(self) -> Expr:
        terms = [self.and_expr()]
        while self.keyword("or"):
            terms.append(self.and_expr())
        return _join(Or, terms)

    def and_expr(self) -> Expr:
        terms = [self.unary()]
        while True:
            self.skip_space()
            if self.keyword("and"):
                terms.append(self.unary())
                continue
            nxt = self.peek()
            if not nxt or nxt == ")" or self._at_keyword("or"):
                return _join(And, terms)
            terms.append(self.unary())

    def _at_keyword(self, word: str) -> bool:
        start = self.pos
        found = self.keyword(word)
        self.pos = start
        return found

    def unary(self) -> Expr:
        nxt = self.peek()
        if nxt == "(":
            if self.depth >= MAX_DEPTH:
                raise self.fail(f"at most {MAX_DEPTH} nested parentheses")
            self.pos += 1
            self.depth += 1
            expr = self.or_expr()
            if self.peek() != ")":
                raise self.fail("')'")
            self.pos += 1
            self.depth -= 1
            return expr
        if not nxt:
            raise self.fail("a condition such as status:failed")
        return self.term()

    def term(self) -> Expr:
        start = self.pos
        match = _NAME.match(self.text, self.pos)
        if match is None:
            raise self.fail(f"a field ({_fields_hint()})")
        field = match.group()
        if field_kind(field) is None or field.lower() in _KEYWORDS:
            raise QueryError(
                f"Bad filter at character {start + 1}: unknown field {field!r}; "
                f"expected {_fields_hint()}.",
                start,
            )
        self.pos = match.end()
        op = next((o for o in _OPS if self.text.startswith(o, self.pos)), None)
        if op is None:
            raise self.fail(f"an operator after {field!r} (:, =, !=, >, >=, <, <=)")
        self.pos += len(op)
        op = "=" if op == ":" else op
        if self.text[self.pos : self.pos + 1] == "(":
            if op != "=":
                raise self.fail(f"a single value: a list in (...) goes with ':' only, not {op!r}")
            return InList(field, self.items(field))
        value_at = self.pos
        raw, quoted = self.item()
        if not quoted and op == "=" and ".." in raw and field_kind(field) != "text":
            low_text, _, high_text = raw.partition("..")
            low = self.number(field, low_text, value_at, end_of_day=False)
            high = self.number(field, high_text, value_at, end_of_day=True)
            return Range(field, low, high)
        if field == "started" and op == "=" and not quoted and _is_date(raw):
            day = self.number(field, raw, value_at, end_of_day=False)
            return Range(field, day, day + _DAY - 1e-6)
        return Comparison(field, op, self.typed(field, op, raw, quoted, value_at))

    def items(self, field: str) -> tuple[Value, ...]:
        self.pos += 1  # "("
        values: list[Value] = []
        while True:
            self.skip_space()
            at = self.pos
            raw, quoted = self.item()
            values.append(self.typed(field, "=", raw, quoted, at))
            self.skip_space()
            if self.text.startswith(",", self.pos):
                self.pos += 1
                continue
            if self.text.startswith(")", self.pos):
                self.pos += 1
                return tuple(values)
            raise self.fail("',' or ')' in the list")

    def item(self) -> tuple[str, bool]:
        """The next value as written, and whether it was quoted."""
        if self.text.startswith('"', self.pos):
            out: list[str] = []
            i = self.pos + 1
            while i < len(self.text):
                ch = self.text[i]
                if ch == "\\" and i + 1 < len(self.text):
                    out.append(self.text[i + 1])
                    i += 2
                    continue
                if ch == '"':
                    self.pos = i + 1
                    return "".join(out), True
                out.append(ch)
                i += 1
            raise self.fail("a closing '\"'", len(self.text))
        match = _BARE.match(self.text, self.pos)
        if match is None:
            raise self.fail("a value")
        self.pos = match.end()
        return match.group(), False

    def typed(self, field: str, op: str, raw: str, quoted: bool, at: int) -> Value:
        if "\x00" in raw:
            raise self.fail("a value without NUL characters", at)
        kind = field_kind(field)
        if kind == "text":
            return raw
        if kind == "param":
            if not quoted and _NUMBER.fullmatch(raw):
                return float(raw)
            if op not in ("=", "!="):
                raise self.fail(f"a number after {field}{op}", at)
            return raw
        if quoted and field != "started":
            raise self.fail(f"a number for {field}", at)
        return self.number(field, raw, at, end_of_day=False)

    def number(self, field: str, raw: str, at: int, *, end_of_day: bool) -> float:
        if _NUMBER.fullmatch(raw):
            return float(raw)
        if field == "started":
            stamp = _timestamp(raw)
            if stamp is not None:
                return stamp + (_DAY - 1e-6 if end_of_day and _is_date(raw) else 0.0)
            raise self.fail("seconds since the epoch or an ISO date (2026-12-07)", at)
        raise self.fail(f"a number for {field}", at)


def _is_date(raw: str) -> bool:
    return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw))


def _timestamp(raw: str) -> float | None:
    try:
        when = dt.datetime.fromisoformat(raw)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


def _join(kind: type[And] | type[Or], terms: list[Expr]) -> Expr:
    """One term as itself; several as ``kind`` with nested terms of the same kind flattened."""
    if len(terms) == 1:
        return terms[0]
    flat: list[Expr] = []
    for term in terms:
        flat.extend(term.terms if isinstance(term, kind) else (term,))
    return kind(tuple(flat))


def parse(text: str) -> Expr | None:
    """The filter tree of ``text`` (None for an empty filter); QueryError when malformed."""
    if len(text) > MAX_LENGTH:
        raise QueryError(f"Bad filter: longer than {MAX_LENGTH} characters.", MAX_LENGTH)
    return _Parser(text).query()


def parse_sort(field: str, order: str | None = None) -> Sort:
    """A :class:`Sort` from a field name and ``asc`` / ``desc`` (default: descending)."""
    if field_kind(field) is None:
        raise QueryError(f"Cannot sort by {field!r}: expected {_fields_hint()}.")
    if order not in (None, "", "asc", "desc"):
        raise QueryError(f"Sort order {order!r}: expected asc or desc.")
    return Sort(field, descending=order != "asc")


# -- rendering (the inverse of parse, for links and tests) -------------------


def _render_value(field: str, value: Value) -> str:
    if isinstance(value, float):
        return repr(value)
    if field_kind(field) == "text" and _BARE.fullmatch(value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render(expr: Expr | None) -> str:
    """Filter text that :func:`parse` reads back into ``expr``."""
    if expr is None:
        return ""
    if isinstance(expr, Or):
        return " or ".join(render(term) for term in expr.terms)
    if isinstance(expr, And):
        return " ".join(
            f"({render(term)})" if isinstance(term, Or) else render(term) for term in expr.terms
        )
    if isinstance(expr, InList):
        items = ",".join(_render_value(expr.field, v) for v in expr.values)
        return f"{expr.field}:({items})"
    if isinstance(expr, Range):
        return f"{expr.field}:{expr.low!r}..{expr.high!r}"
    op = ":" if expr.op == "=" else expr.op
    return f"{expr.field}{op}{_render_value(expr.field, expr.value)}"
