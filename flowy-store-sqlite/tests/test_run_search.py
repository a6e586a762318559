"""``search_runs``: the default (Python) implementation under the same contract as the SQL one.

The SQL implementation runs the contract in test_contracts.py / test_postgres.py
(:class:`flowy.testing.metadata_store.MetadataStoreContract` includes it); here a
store that keeps the kernel's defaults proves them equal, plus what only SQL has.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flowy.kernel.contracts import MetadataStore
from flowy.kernel.run_query import And, Comparison, Expr, InList, Or, Range, RunQuery, Sort
from flowy.testing.run_search import RunSearchContract, _fill
from flowy_store_sqlite.metadata import SQLMetadataStore
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


class DefaultSearchStore(SQLMetadataStore):
    """The SQL store with the contract's default ``search_runs`` and ``run_columns``."""

    search_runs = MetadataStore.search_runs
    run_columns = MetadataStore.run_columns


class TestDefaultSearch(RunSearchContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[MetadataStore]:
        store = DefaultSearchStore(f"sqlite:///{tmp_path / 'meta.db'}")
        yield store
        store.close()


def test_a_cursor_of_the_wrong_shape_is_refused(tmp_path: Path) -> None:
    store = SQLMetadataStore(f"sqlite:///{tmp_path / 'meta.db'}")
    try:
        with pytest.raises(ValueError, match="cursor"):
            store.search_runs(RunQuery(sort=Sort("metrics.r2"), after=(1.0, "x")))
    finally:
        store.close()


# -- the SQL answers exactly as the default, for generated filters and sorts ------------

_FIELDS_AND_VALUES = {
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


def _condition() -> st.SearchStrategy[Expr]:
    def comparisons(field: str) -> st.SearchStrategy[Expr]:
        values = st.sampled_from(_FIELDS_AND_VALUES[field])
        ops = st.sampled_from(["=", "!=", ">", ">=", "<", "<="])
        return st.one_of(
            st.builds(Comparison, st.just(field), ops, values).filter(
                lambda c: isinstance(c.value, float) or c.op in ("=", "!=") or field in TEXT
            ),
            st.builds(InList, st.just(field), st.lists(values, min_size=1, max_size=3).map(tuple)),
        )

    numeric = [f for f, v in _FIELDS_AND_VALUES.items() if isinstance(v[0], float)]
    ranges = st.builds(
        Range, st.sampled_from(numeric), st.sampled_from([0.0, 0.5, 100.0]),
        st.sampled_from([1.0, 10.0, 1000.0]),
    )  # fmt: skip
    return st.one_of(*(comparisons(f) for f in _FIELDS_AND_VALUES), ranges)


def _trees() -> st.SearchStrategy[Expr]:
    def extend(children: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
        lists = st.lists(children, min_size=2, max_size=3).map(tuple)
        return st.builds(And, lists) | st.builds(Or, lists)

    return st.recursive(_condition(), extend, max_leaves=5)


TEXT = {"status", "pipeline", "experiment", "stack", "run"}


@pytest.fixture(scope="module")
def filled_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLMetadataStore]:
    store = SQLMetadataStore(f"sqlite:///{tmp_path_factory.mktemp('gen') / 'meta.db'}")
    _fill(store)
    yield store
    store.close()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    tree=_trees(), sort=st.sampled_from(_SORTS), descending=st.booleans(), limit=st.integers(1, 6)
)
def test_sql_answers_as_the_default(
    filled_store: SQLMetadataStore, tree: Expr, sort: str, descending: bool, limit: int
) -> None:
    def pages(search: Any) -> list[list[str]]:
        query = RunQuery(tree, Sort(sort, descending), limit)
        found = []
        for _ in range(20):
            page = search(query)
            found.append([r.run_id for r in page.runs])
            if page.next_cursor is None:
                return found
            query = RunQuery(tree, query.sort, limit, tuple(page.next_cursor))
        raise AssertionError("no end")

    default = pages(lambda q: MetadataStore.search_runs(filled_store, q))
    assert pages(filled_store.search_runs) == default
