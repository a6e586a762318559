"""The run page at 500 steps and comparing runs, in Chromium against the real ``flowy ui``.

A pipeline of 500 steps (built in a loop: ten groups ``stage<g>_<i>`` of 50, each a small
tree, tagged ``part-<letter>`` and ``zz-big``) is run by the real ``flowy run`` in a project of
its own; its run page must draw it collapsed into its tags' groups (the first tag of each step,
not its name's prefix) and say so, expand a group, zoom with the wheel and pan by
dragging without a script error, lay the whole graph out in a Web Worker, and list every
step in the timeline in start order. Comparing runs uses the shared filled project
(experiment ``tune``: ``alpha`` = i / 10, ``r2`` = 0.5 + alpha). Screenshots are kept in
each test's folder (``screenshots/``).

``FLOWY_UI_STATIC_DIR``, when set, is passed to the servers, so a frontend build in another
folder can be tried before static/ is rebuilt.
"""

# ruff: noqa: F811 - the fixtures imported from test_browser are these tests' parameters
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_browser import (  # noqa: F401 - browser and page are fixtures
    PATIENCE_MS,
    SLOW_PIPELINE,
    _shot,
    browser,
    flowy_ui_server,
    page,
)
from test_compare import MANY, MANY_FILL, MANY_PIPELINE

pytestmark = pytest.mark.slow

GROUPS = 10
PER_GROUP = 50

BIG_PIPELINE = textwrap.dedent(
    f"""
    import inspect

    from flowy import Pipeline, step


    def _make(name, upstream, tag):
        def body(**inputs):
            return len(inputs)

        # Each step takes its upstream steps' outputs by name.
        body.__signature__ = inspect.Signature(
            [inspect.Parameter(u, inspect.Parameter.KEYWORD_ONLY) for u in upstream]
        )
        # Two tags, given unsorted: the store keeps them sorted, the group is the first.
        return step(name=name, cache=False, tags=["zz-big", tag])(body)


    steps = []
    for g in range({GROUPS}):
        # A tag unlike the names, so the groups show which one the page used.
        tag = f"part-{{chr(ord('a') + g)}}"
        for i in range({PER_GROUP}):
            if i == 0:
                upstream = [f"stage{{g - 1}}_00"] if g else []
            else:
                upstream = [f"stage{{g}}_{{(i - 1) // 2:02d}}"]
            steps.append(_make(f"stage{{g}}_{{i:02d}}", upstream, tag))

    big = Pipeline("big", steps)
    """
)


MARKS_PIPELINE = textwrap.dedent(
    """
    import os
    import time

    from flowy import Pipeline, step


    @step(cache=True)
    def reused() -> int:
        return 1


    @step(cache=False, retries=2, retry_backoff=0.01)
    def flaky(reused: int) -> int:
        marker = os.path.join(os.environ["MARKS_DIR"], "failed-once")
        if not os.path.exists(marker):  # the first attempt of each run fails
            open(marker, "w").close()
            raise RuntimeError("first attempt fails")
        os.remove(marker)
        return reused + 1


    @step(cache=False, timeout=1)
    def sluggish(reused: int) -> int:
        time.sleep(60)
        return reused


    marks = Pipeline("marks", [reused, flaky, sluggish])
    """
)


def _static() -> dict[str, str]:
    """The frontend build to serve, when one other than static/ is being tried."""
    folder = os.environ.get("FLOWY_UI_STATIC_DIR")
    return {"FLOWY_UI_STATIC_DIR": folder} if folder else {}


def _api(url: str, path: str, token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(f"{url}{path}", headers=headers)
    with urllib.request.urlopen(request, timeout=60) as reply:
        return json.load(reply)


@contextlib.contextmanager
def _held_run(
    url: str, project: Path, env: dict[str, str], gate: Path, token: str | None = None
) -> Iterator[str]:
    """A real ``flowy run`` of SLOW_PIPELINE held on ``gate``; yields its id once running."""
    run = subprocess.Popen(
        [sys.executable, "-m", "flowy_cli.main", "run", "live_pipeline.py"],
        cwd=project, env={**env, "GATE": str(gate)}, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + PATIENCE_MS / 1000
        items: list[Any] = []
        while not (items and items[0]["status"] == "running"):
            assert time.monotonic() < deadline and run.poll() is None, "no running run"
            time.sleep(0.1)
            items = _api(url, "/api/v1/runs?limit=1", token)["items"]
        yield items[0]["run_id"]
    finally:
        gate.touch()
        run.communicate(timeout=120)


@pytest.fixture(scope="module")
def big_run(filled: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The real ``flowy ui`` over a project holding one run of the 500-step pipeline."""
    root = tmp_path_factory.mktemp("big")
    project, home = root / "project", root / "home"
    (project / ".flowy").mkdir(parents=True)
    home.mkdir()
    (project / "big_pipeline.py").write_text(BIG_PIPELINE)
    env = type(filled)(project, home, [], "").env(**_static())  # conftest's Filled
    done = subprocess.run(
        [sys.executable, "-m", "flowy_cli.main", "run", "big_pipeline.py:big"],
        cwd=project, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    with flowy_ui_server(project, env) as url:
        (run,) = _api(url, "/api/v1/runs?limit=5")["items"]
        yield url, run["run_id"]


@pytest.fixture(scope="module")
def tune_url(filled: Any) -> Iterator[str]:
    """The real ``flowy ui`` over the shared filled project (read only here)."""
    with flowy_ui_server(filled.project, filled.env(**_static())) as url:
        yield url


def test_a_500_step_run_is_drawn_collapsed_expands_zooms_and_pans(
    page: Any, big_run: tuple[str, str], tmp_path: Path
) -> None:
    url, run_id = big_run
    # The store recorded each step's tags, sorted, and /dag and the run's steps carry them.
    nodes = {n["id"]: n for n in _api(url, f"/api/v1/runs/{run_id}/dag")["nodes"]}
    assert nodes["stage3_17"]["tags"] == ["part-d", "zz-big"]
    steps = {s["step"]: s for s in _api(url, f"/api/v1/runs/{run_id}")["steps"]}
    assert steps["stage9_49"]["tags"] == ["part-j", "zz-big"]
    page.goto(f"{url}/runs/{run_id}")
    groups = page.locator('[data-testid="dag-group"]')
    groups.first.wait_for()
    # Above the size check the graph starts collapsed, one node per group, and says so.
    assert groups.count() == GROUPS
    assert page.locator('[data-testid="dag-node"]:not([data-testid="dag-group"])').count() == 0
    note = page.locator('[data-testid="dag-note"]').inner_text()
    assert f"{GROUPS * PER_GROUP} steps" in note and f"{GROUPS} groups collapsed" in note
    assert "grouped by tag" in note
    # The groups are the steps' first tags (part-a .. part-j), not their names' prefixes.
    keys = [groups.nth(i).get_attribute("data-group") for i in range(groups.count())]
    assert sorted(keys) == [f"part-{chr(ord('a') + g)}" for g in range(GROUPS)]
    stage3 = page.locator('[data-testid="dag-group"][data-group="part-d"]')
    assert stage3.get_attribute("data-count") == str(PER_GROUP)
    assert stage3.get_attribute("data-status") == "completed"
    _shot(page, tmp_path, "big-run-collapsed")

    # A group expands when clicked: its 50 steps are drawn, the other groups stay shut.
    stage3.click()
    page.locator('[data-testid="dag-node"][data-node-id="stage3_49"]').wait_for()
    assert groups.count() == GROUPS - 1
    assert page.locator('[data-testid="dag-node"][data-node-id^="stage3_"]').count() == PER_GROUP
    node = page.locator('[data-testid="dag-node"][data-node-id="stage3_00"]')
    assert node.get_attribute("data-status") == "completed"

    # Wheel zooms around the pointer; dragging the background pans.
    svg = page.locator('[data-testid="dag"]')
    svg.scroll_into_view_if_needed()
    box = svg.bounding_box()
    assert box is not None
    cx, cy = box["x"] + box["width"] / 2, box["y"] + min(box["height"] / 2, 150)
    before = float(svg.get_attribute("data-scale") or "0")
    page.mouse.move(cx, cy)
    page.mouse.wheel(0, -400)
    page.wait_for_function(
        f"() => parseFloat(document.querySelector('[data-testid=dag]').dataset.scale) > {before}"
    )
    pan = svg.get_attribute("data-pan")
    page.mouse.move(box["x"] + 5, box["y"] + 5)
    page.mouse.down()
    page.mouse.move(box["x"] + 120, box["y"] + 60, steps=6)
    page.mouse.up()
    page.wait_for_function(
        f"() => document.querySelector('[data-testid=dag]').dataset.pan !== {json.dumps(pan)}"
    )
    _shot(page, tmp_path, "big-run-zoomed")

    # Focus on one step's neighbourhood, then back.
    node.click()
    page.locator('[data-testid="dag-focus"]').click()
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=dag-group]').length === 0"
        " && document.querySelectorAll('[data-testid=dag-node]').length < 20"
    )
    assert page.locator('[data-testid="dag-node"][data-node-id="stage3_01"]').count() == 1
    page.locator('[data-testid="dag-unfocus"]').click()

    # Everything expanded: 500 nodes, laid out in the Web Worker.
    page.locator('[data-testid="dag-expand-all"]').click()
    page.wait_for_function(
        "() => { const s = document.querySelector('[data-testid=dag]');"
        " return s.dataset.drawn === '500' && s.dataset.layout === 'worker'; }",
        timeout=PATIENCE_MS,
    )
    assert page.locator('[data-testid="dag-node"]').count() == GROUPS * PER_GROUP
    ms = float(svg.get_attribute("data-layout-ms") or "nan")
    print(f"\n500-step layout in the Web Worker: {ms:.1f} ms")  # reported, never asserted
    _shot(page, tmp_path, "big-run-expanded")


def test_the_timeline_shows_every_step_in_start_order(
    page: Any, big_run: tuple[str, str], tmp_path: Path
) -> None:
    url, run_id = big_run
    steps = _api(url, f"/api/v1/runs/{run_id}")["steps"]
    page.goto(f"{url}/runs/{run_id}")
    rows = page.locator('[data-testid="gantt-row"]')
    rows.first.wait_for()
    page.wait_for_function(
        f"() => document.querySelectorAll('[data-testid=gantt-row]').length === {len(steps)}"
    )
    shown = rows.evaluate_all(
        "rows => rows.map(r => [r.dataset.step, parseFloat(r.dataset.start)])"
    )
    assert sorted(name for name, _ in shown) == sorted(s["step"] for s in steps)
    starts = [start for _, start in shown]
    assert starts == sorted(starts)  # start order
    expected = {s["step"]: s["started_at"] for s in steps}
    assert all(abs(start - expected[name]) < 1e-3 for name, start in shown)
    assert page.locator('[data-testid="gantt-bar"]').count() == len(steps)
    _shot(page, tmp_path, "big-run-timeline")


def test_compare_two_runs_of_an_experiment(
    page: Any, tune_url: str, filled: Any, tmp_path: Path
) -> None:
    first, last = filled.train[0], filled.train[-1]
    page.goto(f"{tune_url}/experiments/tune")
    for run_id in filled.train:
        page.locator(f'[data-testid="experiment-run"][data-run-id="{run_id}"]').wait_for()
    # Parameters and metrics are columns of the experiment's table.
    header = page.locator('[data-testid="experiment-runs"] thead').inner_text()
    assert "alpha" in header and "r2" in header
    _shot(page, tmp_path, "experiment")
    for run_id in (first, last):
        page.locator(
            f'[data-testid="experiment-run"][data-run-id="{run_id}"] [data-testid="select-run"]'
        ).check()
    page.locator('[data-testid="compare-button"]').click()
    page.wait_for_url("**/experiments/tune/compare?runs=*")
    alpha = page.locator(
        '[data-testid="compare-params"] [data-testid="compare-row"][data-name="alpha"]'
    )
    alpha.wait_for()
    assert alpha.get_attribute("data-changed") == "true"  # the difference, highlighted
    assert page.locator('[data-testid="compare-params"] [data-testid="compare-row"]').count() == 1
    # Best by r2, higher is better: the last run (alpha 1.1).
    page.locator('[data-testid="compare-metric"]').select_option("r2")
    page.locator(f'[data-testid="best-run"][data-metric="r2"][data-run-id="{last}"]').wait_for()
    best = page.locator(
        '[data-testid="compare-params"] [data-testid="compare-column"][data-best="true"]'
    )
    assert best.get_attribute("data-run-id") == last
    # The loss series of both runs overlaid in one chart.
    page.locator('[data-testid="compare-series"][data-metric="loss"]').check()
    chart = page.locator('[data-testid="overlay-chart"][data-metric="loss"]')
    chart.wait_for()
    assert chart.locator('[data-testid="overlay-line"]').count() == 2
    # Parallel coordinates: alpha against r2, one line per run.
    lines = page.locator('[data-testid="pc-line"]')
    assert lines.count() == 2
    axes = page.locator('[data-testid="pc-axis"]').evaluate_all("a => a.map(x => x.dataset.name)")
    assert axes == ["alpha", "r2"]
    assert (
        page.locator(f'[data-testid="pc-line"][data-run-id="{last}"]').get_attribute("data-best")
        == "true"
    )
    _shot(page, tmp_path, "compare-two")
    # Lower is better: the first run becomes best; "all parameters" shows the equal ones.
    page.locator('[data-testid="compare-mode"]').select_option("min")
    page.locator(f'[data-testid="best-run"][data-mode="min"][data-run-id="{first}"]').wait_for()
    page.locator('[data-testid="compare-all"]').check()
    page.wait_for_function(
        "() => document.querySelectorAll("
        "'[data-testid=compare-params] [data-changed=false]').length > 0"
    )


def test_parallel_coordinates_draw_one_line_per_run(
    page: Any, tune_url: str, filled: Any, tmp_path: Path
) -> None:
    runs = ",".join(filled.train)
    page.goto(f"{tune_url}/compare?runs={runs}&metric=r2")
    page.locator('[data-testid="parallel-coordinates"]').wait_for()
    lines = page.locator('[data-testid="pc-line"]')
    assert lines.count() == len(filled.train)
    drawn = lines.evaluate_all("ls => ls.map(l => l.dataset.runId)")
    assert sorted(drawn) == sorted(filled.train)
    assert (
        page.locator('[data-testid="pc-line"][data-best="true"]').get_attribute("data-run-id")
        == filled.train[-1]
    )
    _shot(page, tmp_path, "parallel-coordinates")


def test_a_comparison_of_too_few_or_unknown_runs_says_what_is_wrong(
    browser: Any, tune_url: str, filled: Any
) -> None:
    context = browser.new_context()
    pg = context.new_page()
    pg.set_default_timeout(PATIENCE_MS)
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        pg.goto(f"{tune_url}/compare?runs={filled.train[0]}")
        pg.locator(".error", has_text="at least two runs").wait_for()
        pg.goto(f"{tune_url}/compare?runs={filled.train[0]},no-such-run")
        pg.locator('[data-testid="error"]', has_text="Unknown run ids: 'no-such-run'").wait_for()
    finally:
        context.close()
    assert errors == []  # the 400 is shown, not thrown


def test_a_running_run_is_cancelled_from_its_page(page: Any, filled: Any, tmp_path: Path) -> None:
    """The Cancel button asks first, then the run (held on a gate) ends as cancelled."""
    project, home, gate = tmp_path / "live", tmp_path / "home", tmp_path / "gate"
    (project / ".flowy").mkdir(parents=True)
    (project / "live_pipeline.py").write_text(SLOW_PIPELINE)
    env = filled.env(FLOWY_PROJECT=str(project), FLOWY_HOME=str(home), **_static())
    with flowy_ui_server(project, env) as url, _held_run(url, project, env, gate) as run_id:
        page.goto(f"{url}/runs/{run_id}")
        # The held step is drawn running, and its timeline bar grows while it runs.
        page.locator(
            '[data-testid="dag-node"][data-node-id="hold"][data-status="running"]'
        ).wait_for()
        bar = "[data-testid=gantt-row][data-step=hold][data-running=true] [data-testid=gantt-bar]"
        page.locator(bar).wait_for()
        share = f"document.querySelector('{bar}').getBBox().width"
        first = page.evaluate(f"() => {share}")
        prepare = page.evaluate(
            "() => document.querySelector("
            "'[data-testid=gantt-row][data-step=prepare] [data-testid=gantt-bar]').getBBox().width"
        )
        page.wait_for_function(
            f"() => {share} > {first} || document.querySelector("
            f"'[data-testid=gantt-row][data-step=prepare] [data-testid=gantt-bar]')"
            f".getBBox().width < {prepare}"
        )  # the running bar takes a growing share of the time axis
        button = page.locator('[data-testid="cancel-button"]')
        # Asked first; "keep it running" changes nothing.
        button.click()
        page.locator('[data-testid="cancel-confirm"]').wait_for()
        page.locator('[data-testid="cancel-no"]').click()
        assert _api(url, f"/api/v1/runs/{run_id}")["status"] == "running"
        button.click()
        _shot(page, tmp_path, "cancel-confirm")
        page.locator('[data-testid="cancel-yes"]').click()
        # The page says the cancel was asked for, unless the run already ended as
        # cancelled (the notice goes with the button): either is the answer.
        page.locator(
            '[data-testid="cancel-requested"], h1 .badge[data-status="cancelled"]'
        ).first.wait_for()
        page.locator('h1 .badge[data-status="cancelled"]').wait_for()
        assert page.locator('[data-testid="cancel-button"]').count() == 0  # not running
        assert _api(url, f"/api/v1/runs/{run_id}")["status"] == "cancelled"
        _shot(page, tmp_path, "cancelled")


def test_a_viewer_is_refused_cancelling_and_told_why(
    browser: Any, filled: Any, tmp_path: Path
) -> None:
    project, home, gate = tmp_path / "live", tmp_path / "home", tmp_path / "gate"
    (project / ".flowy").mkdir(parents=True)
    (project / "live_pipeline.py").write_text(SLOW_PIPELINE)
    env = filled.env(
        FLOWY_PROJECT=str(project), FLOWY_HOME=str(home),
        FLOWY_UI_TOKENS=str(tmp_path / "tokens.json"),
        FLOWY_UI_AUDIT=str(tmp_path / "audit.jsonl"), **_static(),
    )  # fmt: skip
    made = subprocess.run(
        [sys.executable, "-m", "flowy_cli.main", "ui", "token", "create", "eve",
         "--role", "viewer"],
        cwd=project, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    token = next(w for w in made.stdout.split() if len(w) >= 32)
    context = browser.new_context()
    # The token as the token field keeps it (sessionStorage), set before the page loads.
    context.add_init_script(f"sessionStorage.setItem('flowy.token', {json.dumps(token)})")
    pg = context.new_page()
    pg.set_default_timeout(PATIENCE_MS)
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        with (
            flowy_ui_server(project, env) as url,
            _held_run(url, project, env, gate, token) as run_id,
        ):
            pg.goto(f"{url}/runs/{run_id}")
            pg.locator('[data-testid="cancel-button"]').click()
            pg.locator('[data-testid="cancel-yes"]').click()
            refusal = pg.locator('[data-testid="cancel-error"]')
            refusal.wait_for()
            assert "editor" in refusal.inner_text()
            assert _api(url, f"/api/v1/runs/{run_id}", token)["status"] == "running"
            _shot(pg, tmp_path, "cancel-refused")
    finally:
        context.close()
    assert errors == []  # the 403 is shown, not thrown


@pytest.fixture(scope="module")
def sweep_url(filled: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real ``flowy ui`` over a project of its own with ``MANY`` (50) runs of ``sweep``."""
    root = tmp_path_factory.mktemp("sweep")
    project, home = root / "project", root / "home"
    (project / ".flowy").mkdir(parents=True)
    home.mkdir()
    (project / "sweep_pipeline.py").write_text(MANY_PIPELINE)
    (root / "fill.py").write_text(MANY_FILL)
    env = type(filled)(project, home, [], "").env(**_static())
    done = subprocess.run(
        [sys.executable, str(root / "fill.py"), str(project)], cwd=project, env=env,
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    with flowy_ui_server(project, env) as url:
        yield url


def test_fifty_runs_are_compared_in_the_page(page: Any, sweep_url: str, tmp_path: Path) -> None:
    page.goto(f"{sweep_url}/experiments/sweep")
    rows = page.locator('[data-testid="experiment-run"]')
    rows.first.wait_for()
    page.wait_for_function(
        f"() => document.querySelectorAll('[data-testid=experiment-run]').length === {MANY}"
    )
    page.get_by_label("select every loaded run").check()
    page.locator('[data-testid="compare-button"]', has_text=f"Compare {MANY} runs").click()
    page.wait_for_url("**/experiments/sweep/compare?runs=*")
    page.locator('[data-testid="parallel-coordinates"]').wait_for()
    assert page.locator('[data-testid="pc-line"]').count() == MANY
    columns = page.locator('[data-testid="compare-params"] [data-testid="compare-column"]')
    assert columns.count() == MANY
    # Only seed differs; the highest seed scores highest and is marked best.
    params = page.locator('[data-testid="compare-params"] [data-testid="compare-row"]')
    assert params.evaluate_all("rs => rs.map(r => r.dataset.name)") == ["seed"]
    best = page.locator('[data-testid="best-run"]').get_attribute("data-run-id")
    seeds = _api(sweep_url, f"/api/v1/runs/{best}")["params"]
    assert seeds["seed"] == MANY - 1
    chart = page.locator('[data-testid="overlay-chart"][data-metric="score"]')
    chart.wait_for()
    assert chart.locator('[data-testid="overlay-line"]').count() == MANY
    _shot(page, tmp_path, "compare-fifty")


def test_dag_nodes_show_cached_retried_and_timed_out_steps(
    page: Any, filled: Any, tmp_path: Path
) -> None:
    project, home = tmp_path / "marks", tmp_path / "home"
    (project / ".flowy").mkdir(parents=True)
    (project / "marks_pipeline.py").write_text(MARKS_PIPELINE)
    env = filled.env(
        FLOWY_PROJECT=str(project), FLOWY_HOME=str(home), MARKS_DIR=str(tmp_path), **_static()
    )
    for _ in range(2):  # the second run re-uses `reused` from the first
        done = subprocess.run(
            [sys.executable, "-m", "flowy_cli.main", "run", "marks_pipeline.py:marks"],
            cwd=project, env=env, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert "timed out" in done.stdout + done.stderr, done.stdout + done.stderr
    with flowy_ui_server(project, env) as url:
        run_id = _api(url, "/api/v1/runs?limit=1")["items"][0]["run_id"]
        steps = {s["step"]: s for s in _api(url, f"/api/v1/runs/{run_id}")["steps"]}
        assert steps["flaky"]["attempts"] == 2 and steps["reused"]["status"] == "cached"
        page.goto(f"{url}/runs/{run_id}")
        node = '[data-testid="dag-node"][data-node-id="{}"]'
        page.locator(node.format("sluggish")).wait_for()
        assert page.locator(node.format("reused")).get_attribute("data-cached") == "true"
        assert page.locator(node.format("flaky")).get_attribute("data-retried") == "true"
        assert page.locator(node.format("flaky")).get_attribute("data-status") == "completed"
        sluggish = page.locator(node.format("sluggish"))
        assert sluggish.get_attribute("data-timed-out") == "true"
        assert sluggish.get_attribute("data-status") == "timed_out"
        assert "\u00d72" in (page.locator(node.format("flaky")).text_content() or "")
        _shot(page, tmp_path, "dag-marks")
