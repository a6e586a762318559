"""The runs list in Chromium: filter by a metric, sort by a parameter, choose columns, reload.

The real ``flowy ui`` serves the filled project (12 ``training`` runs with
``alpha`` = i/10 and ``r2`` = 0.5 + alpha, one failed run); the page is driven by
Playwright in Debian's Chromium (fixtures of test_browser.py). Every wait is on
what the page shows, never on a duration.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import test_browser
from test_browser import PATIENCE_MS, _shot

pytestmark = pytest.mark.slow

# test_browser.py's fixtures: the real `flowy ui` over the filled project, Chromium, a page
# that fails the test on any script error or CSP violation.
ui_url = test_browser.ui_url
browser = test_browser.browser
page = test_browser.page


@pytest.fixture
def page_expecting_400(browser: Any) -> Iterator[Any]:
    """A page like ``page``, where the only console errors allowed are the 400 answers to a
    filter the test makes bad on purpose (Chromium logs every failed resource)."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(PATIENCE_MS)
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield pg
    context.close()
    assert all("status of 400" in e for e in errors), errors


def _rows(page: Any) -> Any:
    return page.locator('[data-testid="run-row"]')


def _ids(page: Any) -> list[str]:
    return [r.get_attribute("data-run-id") for r in _rows(page).all()]


def test_filter_by_a_metric(page: Any, ui_url: str, filled: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    page.goto(ui_url + "/runs")
    expect(_rows(page)).to_have_count(len(filled.train) + 1, timeout=PATIENCE_MS)
    page.fill('[data-testid="filter-q"]', "metrics.r2>=1.35 pipeline:training")
    page.press('[data-testid="filter-q"]', "Enter")
    expect(_rows(page)).to_have_count(3, timeout=PATIENCE_MS)  # alpha 0.9, 1.0, 1.1
    assert _ids(page) == filled.train[::-1][:3]
    assert "q=metrics.r2" in page.url
    _shot(page, tmp_path, "runs-filtered")


def test_a_bad_filter_is_explained_inline(
    page_expecting_400: Any, ui_url: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    page = page_expecting_400
    page.goto(ui_url + "/runs")
    page.fill('[data-testid="filter-q"]', "metrics.r2>>1")
    page.press('[data-testid="filter-q"]', "Enter")
    error = page.locator('[data-testid="filter-error"]')
    expect(error).to_contain_text("at character 12", timeout=PATIENCE_MS)
    _shot(page, tmp_path, "runs-bad-filter")


def test_sort_by_a_param_choose_a_column_and_reload_keeps_the_view(
    page: Any, ui_url: str, filled: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    page.goto(ui_url + "/runs?q=pipeline:training")
    expect(_rows(page)).to_have_count(len(filled.train), timeout=PATIENCE_MS)
    # Choose the columns: exactly params.alpha and metrics.r2.
    page.click('[data-testid="column-chooser"] summary')
    page.click('[data-testid="columns-none"]')
    page.check('[data-testid="column-option"][data-column="params.alpha"]')
    page.check('[data-testid="column-option"][data-column="metrics.r2"]')
    alpha_header = page.locator('[data-testid="sort-header"][data-field="params.alpha"]')
    expect(alpha_header).to_be_visible(timeout=PATIENCE_MS)
    expect(page.locator('[data-testid="sort-header"][data-field="metrics.loss"]')).to_have_count(0)
    # Sort by the parameter: descending first, then ascending.
    alpha_header.click()
    first = _rows(page).first
    expect(first).to_have_attribute("data-run-id", filled.train[-1], timeout=PATIENCE_MS)
    alpha_header.click()
    expect(first).to_have_attribute("data-run-id", filled.train[0], timeout=PATIENCE_MS)
    assert _ids(page) == filled.train
    cell = first.locator('[data-column="params.alpha"]')
    assert cell.inner_text().strip() in ("0", "0.0")
    for name in ("sort=params.alpha", "order=asc", "columns=params.alpha%2Cmetrics.r2"):
        assert name in page.url, page.url
    _shot(page, tmp_path, "runs-sorted-by-param")
    # A reload (or the link, shared) shows the same view.
    page.reload()
    expect(_rows(page)).to_have_count(len(filled.train), timeout=PATIENCE_MS)
    expect(_rows(page).first).to_have_attribute("data-run-id", filled.train[0])
    assert _ids(page) == filled.train
    headers = page.locator('[data-testid="sort-header"]')
    fields = [h.get_attribute("data-field") for h in headers.all()]
    assert fields[-2:] == ["params.alpha", "metrics.r2"]
    expect(page.locator('[data-testid="filter-q"]')).to_have_value("pipeline:training")
    # The columns are remembered for a visit without them in the URL.
    page.goto(ui_url + "/runs")
    expect(page.locator('[data-testid="sort-header"][data-field="metrics.r2"]')).to_be_visible()
    expect(page.locator('[data-testid="sort-header"][data-field="metrics.loss"]')).to_have_count(0)
