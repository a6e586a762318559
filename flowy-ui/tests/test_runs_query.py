"""``GET /api/v1/runs`` with a filter, a sort and chosen columns, over the filled project.

The project holds 12 ``training`` runs (``alpha`` = i/10, ``r2`` = 0.5 + alpha,
``loss`` last = 1/1200 + alpha, ``diverged`` = inf) and one failed ``failing``
run, made by real ``run_pipeline`` calls; the server is a real uvicorn one.
"""

from __future__ import annotations

from typing import Any

import pytest


def _all(api: Any, **params: Any) -> list[dict[str, Any]]:
    """Every item of a listing, page by page through the cursors."""
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        got = api.get("/api/v1/runs", params={**params, **({"cursor": cursor} if cursor else {})})
        assert got.status_code == 200, got.text
        body = got.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("the cursors never ended")


def test_filter_by_a_metric_and_a_param(api, filled) -> None:
    items = _all(api, q="metrics.r2>1.0 params.alpha<=1.0", limit=2)
    # r2 = 0.5 + alpha > 1.0 means alpha > 0.5 (floating point: 0.6 .. 1.0)
    expected = [filled.train[i] for i in range(6, 11)][::-1]
    assert [r["run_id"] for r in items] == expected


def test_or_in_and_ranges(api, filled) -> None:
    items = _all(api, q="status:(failed,crashed) or params.alpha:0.1..0.2", limit=50)
    assert [r["run_id"] for r in items] == [filled.failed, filled.train[2], filled.train[1]]
    items = _all(api, q='pipeline:"training" (params.alpha=0 or params.alpha=1.1)')
    assert [r["run_id"] for r in items] == [filled.train[11], filled.train[0]]


def test_shorthands_are_anded_with_the_filter(api, filled) -> None:
    items = _all(api, q="params.alpha>=0.9", pipeline="training", status="completed")
    assert [r["run_id"] for r in items] == [filled.train[11], filled.train[10], filled.train[9]]
    assert _all(api, q="params.alpha>=0.9", experiment="nothing") == []


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_sort_by_a_metric_pages_in_order(api, filled, order) -> None:
    items = _all(api, sort="metrics.r2", order=order, limit=5, columns="metrics.r2")
    ids = [r["run_id"] for r in items]
    train = filled.train if order == "asc" else filled.train[::-1]
    # the failed run has no r2: last in both directions
    assert ids == [*train, filled.failed]
    values = [r["metrics"]["r2"] for r in items[:-1]]
    assert values == sorted(values, reverse=order == "desc")
    assert items[-1]["metrics"] == {}


def test_sort_by_a_param(api, filled) -> None:
    items = _all(api, sort="params.alpha", order="desc", q="pipeline:training", limit=4)
    assert [r["run_id"] for r in items] == filled.train[::-1]


def test_only_chosen_columns_are_sent(api, filled) -> None:
    body = api.get(
        "/api/v1/runs", params={"columns": "params.alpha,metrics.diverged", "limit": 3}
    ).json()
    for item in body["items"]:
        assert set(item["params"]) <= {"alpha"} and set(item["metrics"]) <= {"diverged"}
    train = body["items"][1]
    assert train["params"] == {"alpha": 1.1} and train["metrics"] == {"diverged": "Infinity"}
    assert set(body["available_columns"]) >= {
        "params.alpha", "params.rows", "metrics.loss", "metrics.r2", "metrics.diverged",
    }  # fmt: skip
    # the next pages do not repeat the names
    page2 = api.get(
        "/api/v1/runs",
        params={"columns": "params.alpha", "limit": 3, "cursor": body["next_cursor"]},
    ).json()
    assert "available_columns" not in page2 and len(page2["items"]) == 3
    # no columns asked for (an empty list): no params or metrics at all
    bare = api.get("/api/v1/runs", params={"columns": "", "limit": 2}).json()
    assert all(i["params"] == {} and i["metrics"] == {} for i in bare["items"])


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"q": "metrics.r2>high"}, "at character 12"),
        ({"q": "status:failed or"}, "expected a condition"),
        ({"q": "colour:red"}, "unknown field 'colour'"),
        ({"sort": "bogus"}, "Cannot sort by 'bogus'"),
        ({"order": "sideways"}, "order"),
        ({"columns": "alpha"}, "params.<name> or metrics.<name>"),
        ({"cursor": "WzEsMl0"}, "cursor"),
    ],
)
def test_bad_filters_sorts_and_columns_are_400(api, params, words) -> None:
    got = api.get("/api/v1/runs", params=params)
    assert got.status_code == 400, got.text
    assert words in got.json()["error"]["message"]
    assert got.json()["error"]["code"] == "bad_request"


def test_a_cursor_is_bound_to_its_sort(api) -> None:
    first = api.get("/api/v1/runs", params={"sort": "metrics.r2", "limit": 2}).json()
    other = api.get("/api/v1/runs", params={"cursor": first["next_cursor"], "sort": "duration"})
    assert other.status_code == 400 and "belongs to the sort" in other.json()["error"]["message"]
    params = {"cursor": first["next_cursor"], "sort": "metrics.r2", "limit": 2}
    same = api.get("/api/v1/runs", params=params)
    assert same.status_code == 200 and len(same.json()["items"]) == 2
