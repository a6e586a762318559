"""Names and ids from users never become paths outside the store root.

Model, step and output names are validated (refused with a clear error, see
flowy.kernel.names); asset names and tags are data, stored verbatim and never used as
paths; step and output names do become artifact keys, and the local artifact
store refuses any key or URI that would leave its root. After every attempt,
no file exists outside the project's ``.flowy`` folder.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from flowy import Dataset, Pipeline
from flowy.kernel.errors import FlowyError, StepDefinitionError
from flowy.kernel.plugins import FlowyPlugins
from flowy.run.engine import run_pipeline
from flowy.run.steps import Step
from flowy.tracking.client import Client

EVIL = ["../x", "../../../../tmp/evil", "/etc/passwd", "a\x00b", "%2e%2e%2fescape", "..%2F..%2Fx"]


def files_under(root: Path) -> set[Path]:
    """Files below ``root``, except Flowy's per-user cache (FLOWY_HOME, ``home`` in tests)."""
    return {
        p for p in root.rglob("*") if p.is_file() and "home" not in p.relative_to(root).parts[:1]
    }


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder next to the project: nothing may ever appear in it."""
    folder = tmp_path / "outside"
    folder.mkdir()
    return folder


def test_asset_names_and_tags_are_data_not_paths(
    project: Path, plugins: FlowyPlugins, outside: Path
) -> None:
    before = files_under(project.parent)
    steps = []
    for i, name in enumerate(EVIL):

        def make(name: str = name) -> Dataset:
            return Dataset([1, 2], name=name, tags=[name], properties={"path": name})

        globals()[f"evil_{i}"] = make
        make.__name__ = make.__qualname__ = f"evil_{i}"
        steps.append(Step(make, cache=False))
    result = run_pipeline(Pipeline("evil_assets", steps), plugins=plugins, project=project)
    assert result.ok
    created = files_under(project.parent) - before
    artifacts_root = (project / ".flowy").resolve()
    assert created and all(p.resolve().is_relative_to(artifacts_root) for p in created)
    assert files_under(outside) == set()
    with Client(plugins=plugins, project=project) as client:
        for name in EVIL:
            found = client.search_artifacts(name=name)
            assert [i.asset_name for i in found] == [name]
            assert client.search_artifacts(tag=name)[0].tags == [name]
            assert client.load(found[0].artifact_id).properties == {"path": name}


@pytest.mark.parametrize("name", EVIL)
def test_step_and_output_names_cannot_leave_the_root(
    name: str, project: Path, plugins: FlowyPlugins, outside: Path
) -> None:
    def produce() -> int:
        return 1

    globals()["produce"] = produce
    before = files_under(project.parent)
    for options in ({"name": name}, {"outputs": [name]}):
        with pytest.raises(StepDefinitionError, match="Invalid (step|output) name"):
            Step(produce, cache=False, **options)  # refused when the step is declared
    root = (project / ".flowy").resolve()
    created = files_under(project.parent) - before
    assert all(p.resolve().is_relative_to(root) for p in created), created
    assert files_under(outside) == set()


@pytest.mark.parametrize("name", [*EVIL, "", ".", "a/b", "C:\\x", "x" * 200])
def test_model_names_are_validated(name: str, project: Path, plugins: FlowyPlugins) -> None:
    with (
        Client(plugins=plugins, project=project) as client,
        pytest.raises(FlowyError, match="Invalid model name"),
    ):
        client.models.register(name, "abcd")


def test_stages_are_validated(project: Path, plugins: FlowyPlugins) -> None:
    with Client(plugins=plugins, project=project) as client:
        for stage in ("../prod", "Production", "a b", ""):
            with pytest.raises(FlowyError, match="Invalid stage"):
                client.models.promote("m", 1, to=stage)


def test_a_tampered_uri_is_never_read(project: Path, plugins: FlowyPlugins, outside: Path) -> None:
    secret = outside / "secret.json"
    secret.write_text("[1, 2]")

    def value() -> list[int]:
        return [1, 2]

    globals()["value"] = value
    result = run_pipeline(
        Pipeline("tamper", [Step(value, cache=False)]), plugins=plugins, project=project
    )
    aid = result.artifacts["value"].artifact_id
    db = next((project / ".flowy").rglob("*.db"))
    for uri in (str(secret), f"../../outside/{secret.name}", f"file://{secret}"):
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE artifacts SET uri = ? WHERE artifact_id = ?", (uri, aid))
        with (
            Client(plugins=plugins, project=project) as client,
            pytest.raises((FlowyError, ValueError)),
        ):
            client.load(aid)
