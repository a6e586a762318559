"""``/api/v1/stacks/{name}/health``: components resolved, the served stack's stores probed."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
from ui_support import serve, settings_for


def test_the_served_stack_resolves_and_its_stores_answer(open_server: str) -> None:
    health = httpx.get(f"{open_server}/api/v1/stacks/local/health", timeout=30).json()
    assert health["served"] is True and health["ok"] is True and health["problems"] == []
    parts = health["components"]
    assert parts["executor"]["distribution"] == "flowy-executor-local"
    assert parts["executor"]["probe"] is None  # resolved, not contacted
    for store in ("metadata_store", "artifact_store"):
        assert parts[store]["resolved"] is True
        assert parts[store]["probe"]["ok"] is True and parts[store]["probe"]["ms"] >= 0


def test_an_unknown_stack_is_a_404_naming_the_stacks(open_server: str) -> None:
    got = httpx.get(f"{open_server}/api/v1/stacks/nope/health", timeout=30)
    assert got.status_code == 404 and "local" in got.json()["error"]["message"]
    weird = httpx.get(f"{open_server}/api/v1/stacks/%0a%1b/health", timeout=30)
    assert weird.status_code == 404


def test_problems_are_reported_not_raised(filled, plugins, tmp_path: Path) -> None:
    from flowy_ui.app import create_app

    project = tmp_path / "project"
    shutil.copytree(filled.project, project)
    (project / ".flowy" / "stacks").mkdir(exist_ok=True)
    (project / ".flowy" / "stacks" / "typo.toml").write_text(
        '[executor]\ntype = "locall"\n[metadata_store]\ntype = "sqlite"\n'
        '[artifact_store]\ntype = "local"\n'
    )
    copied = attrs_evolve(filled, project)
    app = create_app(settings_for(copied, tmp_path), plugins)
    with serve(app) as url:
        typo = httpx.get(f"{url}/api/v1/stacks/typo/health", timeout=30).json()
        assert typo["ok"] is False and typo["served"] is False
        assert any("locall" in p for p in typo["problems"]), typo
        # The served stack's database turns to garbage before anything read it.
        db = project / ".flowy" / "metadata.db"
        db.write_bytes(b"this is not a database" * 512)
        for sidecar in db.parent.glob("metadata.db-*"):
            sidecar.unlink()
        sick = httpx.get(f"{url}/api/v1/stacks/local/health", timeout=30)
        assert sick.status_code == 200, sick.text
        body = sick.json()
        assert body["ok"] is False
        assert body["components"]["metadata_store"]["probe"]["ok"] is False
        assert body["problems"][0].startswith("metadata_store: ")
        assert body["components"]["artifact_store"]["probe"]["ok"] is True


def attrs_evolve(filled, project: Path):
    import attrs

    return attrs.evolve(filled, project=project)
