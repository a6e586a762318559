"""``/metrics`` on the UI server: the store's metrics for Prometheus, guarded as the API is."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from flowy_ui.tokens import TokenStore
from prometheus_client.parser import text_string_to_metric_families


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_of_the_filled_project(open_server: str, filled) -> None:
    answer = httpx.get(open_server + "/metrics", timeout=60)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    samples = _samples(answer.text)
    completed = (("pipeline", "training"), ("status", "completed"))
    assert samples[("flowy_runs_total", completed)] == len(filled.train)
    failed = (("pipeline", "failing"), ("status", "failed"))
    assert samples[("flowy_runs_total", failed)] == 1
    assert samples[("flowy_up", ())] == 1
    assert any(name == "flowy_step_duration_seconds_bucket" for name, _ in samples)
    # Scraped again: the same totals (the server keeps them between scrapes).
    assert _samples(httpx.get(open_server + "/metrics", timeout=60).text)[
        ("flowy_runs_total", completed)
    ] == len(filled.train)


def test_metrics_need_a_token_when_the_api_does(ui_server, tmp_path: Path) -> None:
    _, token = TokenStore(tmp_path / "tokens.json").create("prometheus", "viewer")
    with ui_server(tmp_path) as (url, _app):
        refused = httpx.get(url + "/metrics", timeout=60)
        assert refused.status_code == 401
        assert "flowy ui token create" in refused.json()["error"]["message"]
        scraped = httpx.get(url + "/metrics", headers={"Authorization": f"Bearer {token}"},
                            timeout=60)  # fmt: skip
        assert scraped.status_code == 200 and "flowy_runs_total" in scraped.text


@pytest.mark.parametrize("path", ["/metrics/", "/metricsx"])
def test_other_paths_are_not_metrics(open_server: str, path: str) -> None:
    assert "flowy_runs_total" not in httpx.get(open_server + path, timeout=60).text
