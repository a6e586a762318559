"""The runs filter language: round trips, errors with positions, and a fuzzer."""

from __future__ import annotations

import pytest
from flowy.kernel.errors import FlowyError
from flowy.kernel.run_query import And, Comparison, Expr, InList, Or, Range, Sort
from flowy.tracking.run_query import MAX_DEPTH, QueryError, parse, parse_sort, render
from hypothesis import given, settings
from hypothesis import strategies as st

_TEXT_FIELDS = ["status", "pipeline", "experiment", "stack", "run"]
_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.\-]{0,8}", fullmatch=True)
_numbers = st.floats(allow_nan=False, width=64)
_text = st.text(st.characters(blacklist_characters="\x00"), min_size=1, max_size=12)


def _comparison() -> st.SearchStrategy[Expr]:
    ops = st.sampled_from(["=", "!=", ">", ">=", "<", "<="])
    text = st.builds(Comparison, st.sampled_from(_TEXT_FIELDS), ops, _text)
    number = st.builds(
        Comparison,
        st.one_of(st.sampled_from(["started", "duration"]), _names.map("metrics.".__add__)),
        ops,
        _numbers,
    )
    param_number = st.builds(Comparison, _names.map("params.".__add__), ops, _numbers)
    param_text = st.builds(
        Comparison, _names.map("params.".__add__), st.sampled_from(["=", "!="]), _text
    )
    in_list = st.one_of(
        st.builds(
            InList,
            st.sampled_from(_TEXT_FIELDS),
            st.lists(_text, min_size=1, max_size=4).map(tuple),
        ),
        st.builds(
            InList,
            _names.map("metrics.".__add__),
            st.lists(_numbers, min_size=1, max_size=4).map(tuple),
        ),
    )
    ranges = st.builds(Range, _names.map(lambda n: f"params.{n}"), _numbers, _numbers) | st.builds(
        Range, st.just("duration"), _numbers, _numbers
    )
    return st.one_of(text, number, param_number, param_text, in_list, ranges)


def _trees() -> st.SearchStrategy[Expr]:
    def extend(children: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
        def flat(kind: type[And] | type[Or], terms: list[Expr]) -> Expr:
            out: list[Expr] = []
            for term in terms:
                out.extend(term.terms if isinstance(term, kind) else (term,))
            return kind(tuple(out))

        lists = st.lists(children, min_size=2, max_size=3)
        return lists.map(lambda t: flat(And, t)) | lists.map(lambda t: flat(Or, t))

    return st.recursive(_comparison(), extend, max_leaves=8)


@settings(max_examples=400, deadline=None)
@given(_trees())
def test_parse_reads_back_what_render_writes(tree: Expr) -> None:
    assert parse(render(tree)) == tree


@settings(max_examples=600, deadline=None)
@given(st.text(max_size=80) | st.text(alphabet='statuspirmce.:=!<>()," or1-0', max_size=60))
def test_the_parser_raises_only_its_own_error(text: str) -> None:
    try:
        parse(text)
    except QueryError as exc:
        assert isinstance(exc, FlowyError)
        assert 0 <= exc.position <= len(text)
        assert "at character" in str(exc) or "longer than" in str(exc)


def test_the_issue_examples() -> None:
    tree = parse("status:failed pipeline:train metrics.r2>0.9 params.alpha=0.1")
    assert tree == And(
        (
            Comparison("status", "=", "failed"),
            Comparison("pipeline", "=", "train"),
            Comparison("metrics.r2", ">", 0.9),
            Comparison("params.alpha", "=", 0.1),
        )
    )
    assert parse("status:(failed,crashed)") == InList("status", ("failed", "crashed"))
    assert parse("metrics.r2:0.5..0.9") == Range("metrics.r2", 0.5, 0.9)
    assert parse('pipeline:"my pipe"') == Comparison("pipeline", "=", "my pipe")
    assert parse("") is None and parse("   ") is None


def test_and_binds_tighter_than_or_and_parentheses_group() -> None:
    a, b, c = (Comparison("status", "=", x) for x in "abc")
    assert parse("status:a or status:b status:c") == Or((a, And((b, c))))
    assert parse("(status:a or status:b) status:c") == And((Or((a, b)), c))
    assert parse("status:a AND status:b OR status:c") == Or((And((a, b)), c))
    assert parse("(status:a status:b) status:c") == And((a, b, c))


def test_values_are_typed_by_field() -> None:
    assert parse("pipeline:123") == Comparison("pipeline", "=", "123")
    assert parse("params.seed:123") == Comparison("params.seed", "=", 123.0)
    assert parse('params.seed:"123"') == Comparison("params.seed", "=", "123")
    assert parse("metrics.loss<inf") == Comparison("metrics.loss", "<", float("inf"))
    assert parse("started>=2026-12-07T10:00:00+00:00") == Comparison("started", ">=", 1796637600.0)
    assert parse("started:2026-12-07") == Range(
        "started", 1796601600.0, 1796601600.0 + 86400 - 1e-6
    )


@pytest.mark.parametrize(
    ("text", "position", "words"),
    [
        ("status", 7, "operator"),
        ("foo:1", 1, "unknown field 'foo'"),
        ("metrics.r2>high", 12, "a number for metrics.r2"),
        ("(status:a", 10, "')'"),
        ("status:a)", 9, "the end"),
        ("params.a>b", 10, "a number"),
        ('pipeline:"open', 15, "closing"),
        ("status>(a,b)", 8, "a single value"),
        ("status:(a b)", 11, "',' or ')'"),
        ("started>yesterday", 9, "ISO date"),
        ("status:a or", 12, "a condition"),
        ('pipeline:"a\x00b"', 10, "NUL"),
        ("params.a\x00:1", 1, "unknown field"),
    ],
)
def test_errors_name_the_position_and_what_was_expected(
    text: str, position: int, words: str
) -> None:
    with pytest.raises(QueryError) as caught:
        parse(text)
    assert f"at character {position}" in str(caught.value)
    assert words in str(caught.value)
    assert caught.value.position == position - 1


def test_nesting_is_bounded() -> None:
    deep = "(" * (MAX_DEPTH + 1) + "status:a" + ")" * (MAX_DEPTH + 1)
    with pytest.raises(QueryError, match="nested"):
        parse(deep)
    ok = "(" * MAX_DEPTH + "status:a" + ")" * MAX_DEPTH
    assert parse(ok) == Comparison("status", "=", "a")


def test_sort() -> None:
    assert parse_sort("metrics.r2", "asc") == Sort("metrics.r2", descending=False)
    assert parse_sort("started") == Sort("started", descending=True)
    with pytest.raises(QueryError, match="Cannot sort by 'bogus'"):
        parse_sort("bogus")
    with pytest.raises(QueryError, match="asc or desc"):
        parse_sort("started", "up")
