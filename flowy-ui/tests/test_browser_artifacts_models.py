"""Artifact previews and the model registry page in a real browser (Debian's Chromium).

The server is the real ``flowy ui`` command over projects of their own (the shared
``filled`` one is counted by other tests): the previews project of test_previews.py
(a frame, arrays, a model, ...), and a small registry project where ``flowy run``-style
runs registered two versions of a model. Promotion happens on a token-protected
server, as an editor (confirmed in the dialog) and as a viewer (refused, nothing
changes). Screenshots of each page are kept in the test's folder (``screenshots/``).

``FLOWY_UI_STATIC_DIR`` (a frontend build of one's own) is passed on to the server
when set, as the shipped build is rebuilt only at release.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from test_browser import PATIENCE_MS, _shot, browser, flowy_ui_server, page  # noqa: F401
from test_previews import PLUGINS, made  # noqa: F401
from ui_support import Filled

pytestmark = pytest.mark.slow

REGISTRY_PIPELINE = textwrap.dedent(
    """
    import flowy
    from flowy import Context, Model, Pipeline, step


    @step(cache=False)
    def data(rows: int = 3) -> list:
        return list(range(rows))


    @step(cache=False, register_model="clf")
    def train(data: list, alpha: float = 0.1):
        flowy.log_metric("r2", 0.5 + alpha)
        return Model({"weights": [alpha] * len(data)})


    pipeline = Pipeline("training", [data, train], Context(rows=3, alpha=0.1))
    """
)

REGISTRY_FILL = textwrap.dedent(
    f"""
    import importlib, importlib.util, json, sys
    from pathlib import Path

    from flowy.kernel.plugins import create_plugin_manager
    from flowy.run.engine import run_pipeline

    project = Path(sys.argv[1])
    path = project / "registry_pipeline.py"
    spec = importlib.util.spec_from_file_location("registry_pipeline", path)
    module = importlib.util.module_from_spec(spec)
    module.__flowy_path__ = str(path)
    sys.modules["registry_pipeline"] = module
    spec.loader.exec_module(module)
    plugins = create_plugin_manager(entrypoints=False, plugins=[
        (d, importlib.import_module(m)) for d, m in {PLUGINS!r}
    ])
    runs = []
    for alpha in (0.1, 0.3):
        result = run_pipeline(module.pipeline, params={{"alpha": alpha}}, plugins=plugins,
                              project=project)
        assert result.ok, result.steps
        runs.append(result.run_id)
    print(json.dumps(runs))
    """
)


def _env(filled: Any, **extra: str) -> dict[str, str]:
    """The project's environment, with this session's frontend build if one is set."""
    static = os.environ.get("FLOWY_UI_STATIC_DIR")
    env: dict[str, str] = filled.env(**({"FLOWY_UI_STATIC_DIR": static} if static else {}), **extra)
    return env


def _get_json(url: str, token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as reply:
        return json.load(reply)


def _node(pg: Any, artifact_id: str) -> Any:
    return pg.locator(f'[data-testid="dag-node"][data-node-id="{artifact_id}"]')


def test_previews_and_going_upstream_through_the_lineage_graph(
    page: Any,  # noqa: F811
    made: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    ids = made.ids
    with flowy_ui_server(made.filled.project, _env(made.filled)) as url:
        # An array made from another one: its histogram, then its parent by clicking.
        page.goto(f"{url}/artifacts/{ids['doubled']}")
        page.locator('[data-testid="preview"][data-kind="array"]').wait_for()
        assert page.locator('[data-testid="histogram-bar"]').count() == 30
        assert "(10, 100)" in page.locator('[data-testid="preview-array"]').inner_text()
        page.locator(
            '[data-testid="artifact-distribution"]', has_text="flowy-materializers"
        ).wait_for()
        upstream = _node(page, ids["values"])
        upstream.wait_for()
        assert upstream.get_attribute("data-status") == "upstream"
        _shot(page, tmp_path, "artifact-array")
        upstream.click()
        page.wait_for_url(f"**/artifacts/{ids['values']}")
        page.locator('[data-testid="preview"][data-kind="array"]').wait_for()
        facts = page.locator('[data-testid="preview-array"]').inner_text()
        assert "NaN" in facts and "5" in facts  # five NaN values counted apart
        assert _node(page, ids["doubled"]).get_attribute("data-status") == "downstream"

        # A model trained on a frame: its card, then the frame upstream of it.
        page.goto(f"{url}/artifacts/{ids['model']}")
        card = page.locator('[data-testid="preview-model"]')
        card.wait_for()
        assert "LinearRegression" in card.inner_text()
        _shot(page, tmp_path, "artifact-model")
        _node(page, ids["table"]).click()
        page.wait_for_url(f"**/artifacts/{ids['table']}")
        head = page.locator('[data-testid="preview-head"]')
        head.wait_for()
        assert head.locator("tbody tr").count() == 20
        stats = page.locator('[data-testid="preview-stats"] tr[data-column="x"]').inner_text()
        assert "30" in stats and "10" in stats  # count and nulls of the column with NaN
        _shot(page, tmp_path, "artifact-frame")

        # An image, fetched by the page and shown.
        page.goto(f"{url}/artifacts/{ids['picture']}")
        image = page.locator('[data-testid="preview-image"]')
        image.wait_for()
        page.wait_for_function(
            "() => { const i = document.querySelector('[data-testid=\"preview-image\"]');"
            " return i && i.complete && i.naturalWidth === 40; }"
        )

        # Searching: the artifacts of the run, by name.
        page.goto(f"{url}/artifacts?run={made.run_id}")
        page.locator(f'[data-testid="artifact-row"][data-artifact-id="{ids["table"]}"]').wait_for()
        assert page.locator('[data-testid="artifact-row"]').count() == len(ids)
        page.locator('[data-testid="artifact-filter-name"]').fill("config")
        page.locator('[data-testid="artifact-filters"] button[type="submit"]').click()
        page.wait_for_url("**name=config**")
        page.wait_for_function(  # the old rows go, and only the matching one comes
            "() => [...document.querySelectorAll('[data-testid=\"artifact-row\"]')]"
            f".map(r => r.dataset.artifactId).join() === '{ids['config']}'"
        )
        _shot(page, tmp_path, "artifacts-search")


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A project whose model ``clf`` has two versions, and an editor and a viewer token."""
    root = tmp_path_factory.mktemp("registry")
    project = root / "project"
    (project / ".flowy").mkdir(parents=True)
    (root / "home").mkdir()
    filled = Filled(project, root / "home", [], "")
    (project / "registry_pipeline.py").write_text(REGISTRY_PIPELINE)
    (root / "fill.py").write_text(REGISTRY_FILL)
    env = _env(
        filled,
        FLOWY_UI_TOKENS=str(root / "tokens.json"),
        FLOWY_UI_AUDIT=str(root / "audit.jsonl"),
    )
    done = subprocess.run(
        [sys.executable, str(root / "fill.py"), str(project)], cwd=project, env=env,
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    tokens = {}
    for name, role in (("erin", "editor"), ("vic", "viewer")):
        made_token = subprocess.run(
            [sys.executable, "-m", "flowy_cli.main", "ui", "token", "create", name,
             "--role", role],
            cwd=project, env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert made_token.returncode == 0, made_token.stdout + made_token.stderr
        tokens[role] = next(w for w in made_token.stdout.split() if len(w) >= 32)
    return {"project": project, "env": env, "tokens": tokens, "audit": root / "audit.jsonl"}


def _signed_in(chromium: Any, url: str, path: str, token: str) -> tuple[Any, list[str]]:
    """A new pg that has typed ``token`` into the token field the 401 brought up, and
    the script errors it will have had (none expected)."""
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(PATIENCE_MS)
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.goto(url + path)
    field = pg.locator('[data-testid="token-field"]')
    field.wait_for()
    field.fill(token)
    field.press("Enter")
    pg.locator('[data-testid="model-versions"]').wait_for()
    return pg, errors


def test_promote_as_editor_refused_as_viewer_and_compare_versions(
    browser: Any,  # noqa: F811
    registry: dict[str, Any],
    tmp_path: Path,
) -> None:
    with flowy_ui_server(registry["project"], registry["env"]) as url:
        editor, editor_errors = _signed_in(
            browser, url, "/models/clf", registry["tokens"]["editor"]
        )
        row = editor.locator('[data-testid="version-row"][data-version="2"]')
        assert row.get_attribute("data-stage") != "production"
        editor.locator('[data-testid="promote-version"]').select_option("2")
        editor.locator('[data-testid="promote-stage"]').select_option("production")
        editor.locator('[data-testid="promote"]').click()
        dialog = editor.locator('[data-testid="confirm-dialog"]')
        dialog.wait_for(state="visible")
        assert "v2 to production" in dialog.inner_text()
        _shot(editor, tmp_path, "model-confirm")
        editor.locator('[data-testid="confirm-ok"]').click()
        editor.locator('[data-testid="stage-change-done"]').wait_for()
        editor.locator(
            '[data-testid="version-row"][data-version="2"][data-stage="production"]'
        ).wait_for()
        editor.locator(
            '[data-testid="history-row"][data-user="erin"][data-version="2"][data-to="production"]'
        ).wait_for()
        assert dialog.is_hidden()
        _shot(editor, tmp_path, "model-promoted")

        # Compare the two versions: alpha differs and is marked.
        for version in ("1", "2"):
            editor.locator(
                f'[data-testid="version-row"][data-version="{version}"] '
                '[data-testid="compare-check"]'
            ).check()
        compare = editor.locator('[data-testid="model-compare"]')
        compare.wait_for()
        alpha = compare.locator('[data-testid="compare-row"][data-name="alpha"]')
        alpha.wait_for()
        assert alpha.get_attribute("data-changed") == "true"
        assert (
            compare.locator('[data-testid="compare-row"][data-name="r2"]').get_attribute(
                "data-changed"
            )
            == "true"
        )
        _shot(editor, tmp_path, "model-compare")

        # Promote v1 over v2, then roll back: production returns to v2.
        editor.locator('[data-testid="promote-version"]').select_option("1")
        editor.locator('[data-testid="promote"]').click()
        editor.locator('[data-testid="confirm-ok"]').click()
        editor.locator(
            '[data-testid="version-row"][data-version="1"][data-stage="production"]'
        ).wait_for()
        editor.locator('[data-testid="rollback"]').click()
        assert "Roll clf back" in dialog.inner_text()
        editor.locator('[data-testid="confirm-ok"]').click()
        editor.locator(
            '[data-testid="version-row"][data-version="2"][data-stage="production"]'
        ).wait_for()
        editor.locator(
            '[data-testid="history-row"][data-user="erin"][data-version="1"][data-to="archived"]'
        ).wait_for()
        assert editor_errors == []
        editor.context.close()

        viewer, viewer_errors = _signed_in(
            browser, url, "/models/clf", registry["tokens"]["viewer"]
        )
        viewer.locator('[data-testid="promote-version"]').select_option("1")
        viewer.locator('[data-testid="promote-stage"]').select_option("production")
        viewer.locator('[data-testid="promote"]').click()
        viewer.locator('[data-testid="confirm-ok"]').click()
        refused = viewer.locator('[data-testid="stage-change-refused"]')
        refused.wait_for()
        text = refused.inner_text()
        assert "role (viewer) cannot promote" in text and "editor token" in text
        _shot(viewer, tmp_path, "model-refused")
        viewer.locator('[data-testid="confirm-cancel"]').click()
        assert viewer_errors == []
        viewer.context.close()

        detail = _get_json(f"{url}/api/v1/models/clf", registry["tokens"]["viewer"])
        assert detail["stages"]["production"] == 2  # nothing changed
        assert [(c["user"], c["version"]) for c in detail["history"]][-1] == ("erin", 2)
    audit = [json.loads(line) for line in registry["audit"].read_text().splitlines()]
    assert ("erin", "model.promote", "ok") in {
        (a["token"], a["action"], a["outcome"]) for a in audit
    }
    assert any(a["token"] == "vic" and a["outcome"] == "refused" for a in audit)
