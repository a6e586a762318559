"""Keyset pages over more runs than a page holds; concurrent requests on one server."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest


@pytest.mark.parametrize("limit", [1, 2, 5, 12, 13])
def test_pages_cover_every_run_once_in_order(api, filled, limit: int) -> None:
    everything = [*filled.train, filled.failed][::-1]  # newest first
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        body = api.get("/api/v1/runs", params=params).json()
        assert len(body["items"]) <= limit
        seen += [r["run_id"] for r in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert pages <= len(everything) + 1, "pagination does not end"
    assert seen == everything  # no duplicates, no gaps, newest first
    assert pages == max(1, -(-len(everything) // limit))


def test_pages_with_a_filter(api, filled) -> None:
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 5, "pipeline": "training", **({"cursor": cursor} if cursor else {})}
        body = api.get("/api/v1/runs", params=params).json()
        seen += [r["run_id"] for r in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == filled.train[::-1]


def test_pages_by_experiment(api, filled) -> None:
    first = api.get("/api/v1/runs", params={"experiment": "tune", "limit": 7}).json()
    rest = api.get(
        "/api/v1/runs", params={"experiment": "tune", "limit": 7, "cursor": first["next_cursor"]}
    ).json()
    ids = [r["run_id"] for r in first["items"] + rest["items"]]
    assert ids == filled.train[::-1] and rest["next_cursor"] is None


def test_concurrent_requests_on_one_server(open_server: str, filled) -> None:
    """Forty clients at once: SQLite is read from many worker threads, each its own client."""
    paths = [
        "/api/v1/runs?limit=20",
        f"/api/v1/runs/{filled.train[0]}",
        f"/api/v1/runs/{filled.train[1]}/metrics?points=100",
        f"/api/v1/runs/{filled.train[2]}/dag",
        "/api/v1/artifacts?limit=20",
        "/api/v1/experiments",
        "/api/v1/models/clf",
    ]

    def fetch(i: int) -> tuple[str, int, int]:
        path = paths[i % len(paths)]
        with httpx.Client(base_url=open_server, timeout=60) as client:
            codes = [client.get(path).status_code for _ in range(3)]
        return path, max(codes), min(codes)

    with ThreadPoolExecutor(max_workers=40) as pool:
        results = list(pool.map(fetch, range(40)))
    bad = [r for r in results if r[1] != 200 or r[2] != 200]
    assert not bad, bad
