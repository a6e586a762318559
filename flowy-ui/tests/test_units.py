"""Small pure parts: downsampling, cursors, loopback detection, token hashing."""

from __future__ import annotations

import math

import pytest
from flowy.kernel.records import RunRecord
from flowy_ui import pagination, series
from flowy_ui.settings import is_loopback
from flowy_ui.tokens import TokenError, TokenStore


def test_downsample_keeps_budget_and_extremes() -> None:
    points = [(float(i), math.sin(i / 10) + (5 if i == 777 else 0)) for i in range(5000)]
    for budget in (2, 3, 10, 99, 500):
        out = series.downsample(points, budget)
        assert len(out) <= budget
        assert max(v for _, v in out) == max(v for _, v in points)
        assert [i for i, _ in out] == sorted(i for i, _ in out)
    assert series.downsample(points[:10], 500) == points[:10]


def test_downsample_nan_never_hides_numbers() -> None:
    points = [(float(i), math.nan if i % 2 else float(i)) for i in range(100)]
    out = series.downsample(points, 10)
    assert all(not math.isnan(v) for _, v in out)
    only_nan = series.downsample([(float(i), math.nan) for i in range(100)], 10)
    assert len(only_nan) == 5


def test_cursor_round_trip_and_refusals() -> None:
    run = RunRecord(run_id="abc", pipeline="p", status="completed", started_at=1234.000001)
    assert pagination.decode(pagination.encode(run)) == (1234.000001, "abc")
    for bad in ["", "x", "WzEsMl0", "bnVsbA", "WyJOYU4iLCJ4Il0"]:
        with pytest.raises(pagination.CursorError):
            pagination.decode(bad)


def test_loopback() -> None:
    for host in ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"]:
        assert is_loopback(host), host
    for host in ["0.0.0.0", "::", "192.168.1.2", "example.com", ""]:
        assert not is_loopback(host), host


def test_token_store(tmp_path) -> None:
    store = TokenStore(tmp_path / "ui" / "tokens.json")
    record, token = store.create("dave", "viewer")
    assert store.verify(token) == record
    assert store.verify(token + "x") is None
    assert store.verify("flowy_" + "a" * 12 + "_" + "b" * 43) is None
    with pytest.raises(TokenError):
        store.create("dave", "admin")
    with pytest.raises(TokenError):
        store.create("eve", "root")
    store.revoke("dave")
    assert store.verify(token) is None
