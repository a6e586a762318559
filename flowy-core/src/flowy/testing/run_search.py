"""The contract of ``MetadataStore.search_runs`` and ``run_columns``, as tests.

Mixed into :class:`flowy.testing.metadata_store.MetadataStoreContract`, so every
store runs it: the default (Python) implementation and a store's own (SQL) one
must give the same pages. Filters are written in the filter language
(:mod:`flowy.tracking.run_query`) and every listing is read page by page (two
runs a page), so the cursors are checked by every test.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from flowy.kernel.contracts import MetadataStore
from flowy.kernel.records import MetricRecord
from flowy.kernel.run_query import RunQuery, Sort
from flowy.testing.records_factory import make_run, make_step
from flowy.tracking import run_query


def _add(
    store: MetadataStore,
    name: str,
    started: float,
    *,
    pipeline: str = "train",
    status: str = "completed",
    duration: float | None = None,
    params: dict[str, Any] | None = None,
    metrics: dict[str, list[float]] | None = None,
    **kw: Any,
) -> None:
    run = make_run(pipeline, started, run_id=name, params=params or {}, **kw)
    store.create_run(run)
    if metrics:
        records = [
            MetricRecord(metric, value, step=i, timestamp=started + i)
            for metric, values in metrics.items()
            for i, value in enumerate(values)
        ]
        store.record_step(make_step(run), metrics=records)
    if status != "running":
        store.finish_run(name, status, started + (duration if duration is not None else 1.0))


def _fill(store: MetadataStore) -> None:
    """Five runs; ids are names so expectations read as lists of names."""
    stack = {"name": "local"}
    metrics = {"r2": [0.5, 0.8], "loss": [1.0]}
    _add(store, "aaaa1", 100.0, duration=10.0, stack=stack, experiment="exp1",
         params={"alpha": 0.1, "opt": "adam"}, metrics=metrics)  # fmt: skip
    _add(store, "bbbb2", 200.0, status="failed", duration=30.0, stack={"name": "aws"},
         params={"alpha": 0.5, "opt": "sgd"}, metrics={"r2": [0.95]})  # fmt: skip
    _add(store, "cccc3", 300.0, pipeline="eval", status="crashed", duration=5.0,
         params={"alpha": 0.1}, metrics={"r2": [0.7, math.nan]})  # fmt: skip
    _add(store, "dddd4", 400.0, pipeline="eval", duration=1.0, experiment="exp2",
         metrics={"r2": [math.inf]})  # fmt: skip
    _add(store, "eeee5", 500.0, status="running", params={"alpha": 2, "flag": True})


def _names(
    store: MetadataStore,
    text: str = "",
    sort: str = "started",
    order: str = "desc",
    limit: int = 2,
) -> list[str]:
    """Every matching run id, read page by page through the cursors."""
    query = RunQuery(
        filter=run_query.parse(text), sort=run_query.parse_sort(sort, order), limit=limit
    )
    found: list[str] = []
    for _ in range(100):
        page = store.search_runs(query)
        assert len(page.runs) <= limit
        found += [r.run_id for r in page.runs]
        if page.next_cursor is None:
            return found
        assert page.runs, "a page with a cursor holds runs"
        query = RunQuery(query.filter, query.sort, limit, tuple(page.next_cursor))
    raise AssertionError("the cursors never ended")


class RunSearchContract:
    """``search_runs``: every filter kind, AND/OR, sorts, keyset pages, NaN and inf."""

    def test_search_without_filter_is_newest_first(self, store: MetadataStore) -> None:
        _fill(store)
        assert _names(store) == ["eeee5", "dddd4", "cccc3", "bbbb2", "aaaa1"]
        assert _names(store, order="asc", limit=50) == ["aaaa1", "bbbb2", "cccc3", "dddd4", "eeee5"]

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("status:failed", ["bbbb2"]),
            ("status!=completed", ["eeee5", "cccc3", "bbbb2"]),
            ("pipeline:eval", ["dddd4", "cccc3"]),
            ("experiment:exp1", ["aaaa1"]),
            ("experiment:eval", ["cccc3"]),  # no experiment: its pipeline's name
            ("stack:aws", ["bbbb2"]),
            ("stack!=aws", ["aaaa1"]),  # runs without a stack name match no condition on it
            ("run:ccc", ["cccc3"]),
            ("run!=ccc status:completed", ["dddd4", "aaaa1"]),
            ("started>=300", ["eeee5", "dddd4", "cccc3"]),
            ("started<200", ["aaaa1"]),
            ("started:1970-01-01", ["eeee5", "dddd4", "cccc3", "bbbb2", "aaaa1"]),
            ("duration>5", ["bbbb2", "aaaa1"]),
            ("duration<=5", ["dddd4", "cccc3"]),
            ("params.alpha=0.1", ["cccc3", "aaaa1"]),
            ("params.alpha:2", ["eeee5"]),
            ("params.alpha>0.2", ["eeee5", "bbbb2"]),
            ("params.alpha!=0.1", ["eeee5", "bbbb2"]),
            ("params.opt:adam", ["aaaa1"]),
            ('params.opt="sgd"', ["bbbb2"]),
            ("params.opt!=adam", ["bbbb2"]),
            ("params.flag:true", ["eeee5"]),
            ("params.missing:1", []),
            ("metrics.r2>0.9", ["dddd4", "bbbb2"]),
            ("metrics.r2<0.9", ["aaaa1"]),  # last value 0.8; cccc3's last is NaN
            ("metrics.r2!=0.8", ["dddd4", "bbbb2"]),
            ("metrics.r2<inf", ["bbbb2", "aaaa1"]),
            ("metrics.r2:inf", ["dddd4"]),
            ("metrics.loss:1", ["aaaa1"]),
            ("status:(failed,crashed)", ["cccc3", "bbbb2"]),
            ("pipeline:(eval,nothing)", ["dddd4", "cccc3"]),
            ("params.alpha:(0.5,2)", ["eeee5", "bbbb2"]),
            ("metrics.r2:0.5..0.95", ["bbbb2", "aaaa1"]),
            ("params.alpha:0.1..0.5", ["cccc3", "bbbb2", "aaaa1"]),
            ("duration:1..10", ["dddd4", "cccc3", "aaaa1"]),
            ("pipeline:train status:completed", ["aaaa1"]),
            ("pipeline:train and metrics.r2>0.9", ["bbbb2"]),
            ("status:failed or status:crashed", ["cccc3", "bbbb2"]),
            ("status:running or pipeline:eval metrics.r2>1", ["eeee5", "dddd4"]),
            ("(status:running or pipeline:eval) metrics.r2>1", ["dddd4"]),
            ("pipeline:train (params.alpha:0.1 or metrics.r2>0.9)", ["bbbb2", "aaaa1"]),
        ],
    )
    def test_search_filters(self, store: MetadataStore, text: str, expected: list[str]) -> None:
        _fill(store)
        assert _names(store, text) == expected

    @pytest.mark.parametrize(
        ("sort", "order", "expected"),
        [
            ("duration", "desc", ["bbbb2", "aaaa1", "cccc3", "dddd4", "eeee5"]),
            ("duration", "asc", ["dddd4", "cccc3", "aaaa1", "bbbb2", "eeee5"]),
            # inf is a value; NaN (cccc3's last) and no metric (eeee5) sort last either way
            ("metrics.r2", "desc", ["dddd4", "bbbb2", "aaaa1", "eeee5", "cccc3"]),
            ("metrics.r2", "asc", ["aaaa1", "bbbb2", "dddd4", "cccc3", "eeee5"]),
            # ties (0.1) by started in the sort's direction; missing params last
            ("params.alpha", "desc", ["eeee5", "bbbb2", "cccc3", "aaaa1", "dddd4"]),
            ("params.alpha", "asc", ["aaaa1", "cccc3", "bbbb2", "eeee5", "dddd4"]),
            ("params.opt", "asc", ["aaaa1", "bbbb2", "cccc3", "dddd4", "eeee5"]),
            ("pipeline", "asc", ["cccc3", "dddd4", "aaaa1", "bbbb2", "eeee5"]),
            ("status", "desc", ["eeee5", "bbbb2", "cccc3", "dddd4", "aaaa1"]),
            ("started", "asc", ["aaaa1", "bbbb2", "cccc3", "dddd4", "eeee5"]),
        ],
    )
    def test_search_sorts(
        self, store: MetadataStore, sort: str, order: str, expected: list[str]
    ) -> None:
        _fill(store)
        assert _names(store, sort=sort, order=order) == expected
        assert _names(store, sort=sort, order=order, limit=1) == expected
        assert _names(store, sort=sort, order=order, limit=50) == expected

    def test_search_ties_break_on_started_then_id(self, store: MetadataStore) -> None:
        for name in ("zz01", "aa02", "mm03"):
            _add(store, name, 100.0, metrics={"r2": [0.5]})
        _add(store, "bb04", 50.0, metrics={"r2": [0.5]})
        assert _names(store, sort="metrics.r2") == ["zz01", "mm03", "aa02", "bb04"]
        assert _names(store, sort="metrics.r2", order="asc") == ["bb04", "aa02", "mm03", "zz01"]
        assert _names(store) == ["zz01", "mm03", "aa02", "bb04"]

    @pytest.mark.parametrize(("sort", "order"), [("started", "desc"), ("metrics.r2", "asc")])
    def test_search_pages_never_repeat_or_skip_while_runs_are_added(
        self, store: MetadataStore, sort: str, order: str
    ) -> None:
        for i in range(7):
            _add(store, f"run{i:02d}", 100.0 + i, metrics={"r2": [i % 3 / 10]})
        before = _names(store, sort=sort, order=order, limit=50)
        query = RunQuery(sort=run_query.parse_sort(sort, order), limit=2)
        seen: list[str] = []
        for i in range(20):
            page = store.search_runs(query)
            seen += [r.run_id for r in page.runs]
            # New runs arrive between pages: newest of all, and in the middle of the order.
            _add(store, f"new{i:02d}", 1000.0 + i, metrics={"r2": [0.15]})
            if page.next_cursor is None:
                break
            query = RunQuery(None, query.sort, 2, tuple(page.next_cursor))
        assert len(seen) == len(set(seen)), "a run came twice"
        assert [r for r in seen if r.startswith("run")] == before

    def test_search_returns_only_the_chosen_columns(self, store: MetadataStore) -> None:
        _fill(store)
        query = RunQuery(
            filter=run_query.parse("pipeline:train or pipeline:eval"),
            sort=Sort("started", descending=False),
            limit=10,
            columns=("params.alpha", "params.opt", "metrics.r2", "metrics.none"),
        )
        values = store.search_runs(query).values
        assert values["aaaa1"] == {"params.alpha": 0.1, "params.opt": "adam", "metrics.r2": 0.8}
        assert values["bbbb2"] == {"params.alpha": 0.5, "params.opt": "sgd", "metrics.r2": 0.95}
        assert values["dddd4"] == {"metrics.r2": math.inf}
        assert set(values["cccc3"]) == {"params.alpha", "metrics.r2"}
        assert math.isnan(values["cccc3"]["metrics.r2"])
        assert values["eeee5"] == {"params.alpha": 2}
        assert store.search_runs(RunQuery(limit=10)).values in ({}, {r: {} for r in values})

    def test_run_columns_names_params_and_metrics(self, store: MetadataStore) -> None:
        assert store.run_columns() == {"params": [], "metrics": []}
        _fill(store)
        assert store.run_columns() == {
            "params": ["alpha", "flag", "opt"],
            "metrics": ["loss", "r2"],
        }
        assert store.run_columns(limit=1) == {"params": ["alpha"], "metrics": ["loss"]}

    #: Generated queries compared with the default implementation (fewer: a faster run).
    search_examples = 100

    def test_search_answers_as_the_default_for_generated_queries(
        self, store: MetadataStore
    ) -> None:
        """Page for page, the store's ``search_runs`` equals the kernel's Python default."""
        from hypothesis import HealthCheck, given, settings

        _fill(store)

        def pages(search: Any, query: RunQuery) -> list[list[str]]:
            found = []
            for _ in range(20):
                page = search(query)
                found.append([r.run_id for r in page.runs])
                if page.next_cursor is None:
                    return found
                query = RunQuery(query.filter, query.sort, query.limit, tuple(page.next_cursor))
            raise AssertionError("the cursors never ended")

        @settings(
            max_examples=self.search_examples,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
        @given(query=_queries())
        def check(query: RunQuery) -> None:
            default = pages(lambda q: MetadataStore.search_runs(store, q), query)
            assert pages(store.search_runs, query) == default

        check()


# -- generated queries over the runs of _fill --------------------------------------------

_VALUES: dict[str, list[Any]] = {
    "status": ["completed", "failed", "crashed", "running", "zzz"],
    "pipeline": ["train", "eval", "t"],
    "experiment": ["exp1", "eval", "train"],
    "stack": ["local", "aws"],
    "run": ["aaaa", "cccc3", "b"],
    "started": [100.0, 250.0, 500.0],
    "duration": [1.0, 5.0, 30.0],
    "params.alpha": [0.1, 0.5, 2.0, "adam"],
    "params.opt": ["adam", "sgd", 1.0],
    "params.flag": ["true", 1.0],
    "metrics.r2": [0.8, 0.95, math.inf, -math.inf],
    "metrics.loss": [1.0, 0.5],
}
_SORTS = ["started", "duration", "status", "pipeline", "stack", "params.alpha", "params.opt",
          "metrics.r2", "metrics.loss"]  # fmt: skip


def _queries() -> Any:
    """Filters of every kind (AND/OR nested, IN, ranges) with a sort and a page size."""
    from hypothesis import strategies as st

    from flowy.kernel.run_query import TEXT_FIELDS, And, Comparison, InList, Or, Range

    def conditions(field: str) -> Any:
        values = st.sampled_from(_VALUES[field])
        ops = st.sampled_from(["=", "!=", ">", ">=", "<", "<="])
        return st.one_of(
            st.builds(Comparison, st.just(field), ops, values).filter(
                lambda c: isinstance(c.value, float) or c.op in ("=", "!=") or field in TEXT_FIELDS
            ),
            st.builds(InList, st.just(field), st.lists(values, min_size=1, max_size=3).map(tuple)),
        )

    numeric = [f for f, v in _VALUES.items() if isinstance(v[0], float)]
    ranges = st.builds(
        Range, st.sampled_from(numeric), st.sampled_from([0.0, 0.5, 100.0]),
        st.sampled_from([1.0, 10.0, 1000.0]),
    )  # fmt: skip
    leaves = st.one_of(*(conditions(f) for f in _VALUES), ranges)

    def extend(children: Any) -> Any:
        lists = st.lists(children, min_size=2, max_size=3).map(tuple)
        return st.builds(And, lists) | st.builds(Or, lists)

    trees = st.none() | st.recursive(leaves, extend, max_leaves=5)
    sorts = st.builds(Sort, st.sampled_from(_SORTS), st.booleans())
    return st.builds(RunQuery, trees, sorts, st.integers(1, 6))
