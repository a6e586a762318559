"""Asset types and model registration go through hooks, flowy-core's own as a plugin's would.

* ``flowy_register_asset_types``: flowy-core registers Dataset, Model, ... from
  ``flowy.tracking.plugin``; a third-party plugin registers its own type the same way,
  and an artifact written from it loads as that class again, in the same process and
  in the worker processes of a real ``flowy run``. Without the plugin the artifact
  loads as a ``RecordedAsset`` that keeps the recorded type and facts, so passing it
  on records them again.
* ``flowy_step_recorded``: flowy-core's implementation registers a model version for
  ``@step(register_model=...)`` once, however often it is called for one record.

Real files throughout: a local artifact store, a SQLite metadata store, and a plugin
"installed" as a module plus a ``*.dist-info`` folder on PYTHONPATH.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest
from flowy import Artifact, Dataset, FeatureSet, Metrics, Model, Report
from flowy.artifacts.resolution import MaterializerRegistry
from flowy.artifacts.store_io import read_artifact, write_artifact
from flowy.kernel.assets import ASSET_KEY, RecordedAsset
from flowy.kernel.errors import PluginLoadError
from flowy.kernel.plugins import FlowyPlugins, create_plugin_manager
from flowy.run.engine import run_pipeline
from flowy.run.pipeline import Pipeline
from flowy.run.steps import Step
from flowy.tracking.client import Client
from flowy_store_sqlite.local_store import LocalArtifactStore

FLOWY_SCRIPT = Path(sys.executable).with_name("flowy")
FLOWY = [str(FLOWY_SCRIPT)] if FLOWY_SCRIPT.exists() else [sys.executable, "-m", "flowy_cli.main"]
FIRST_PARTY = "flowy-executor-local,flowy-store-sqlite,flowy-materializers"

SURVEY_PLUGIN = """
import attrs
from flowy import hookimpl
from flowy.kernel.assets import Asset


@attrs.define
class Survey(Asset):
    \"\"\"Answers to one question.\"\"\"

    asset_type = "survey"

    question: str | None = attrs.field(default=None, kw_only=True)

    def fields(self):
        return {"question": self.question, "answers": len(self.value)}


@hookimpl
def flowy_register_asset_types(register):
    register("survey", "flowy_survey_plugin:Survey", description="answers to one question")
"""

NOT_AN_ASSET = """
from flowy import hookimpl


@hookimpl
def flowy_register_asset_types(register):
    register("survey", "json:JSONDecoder")
"""

PIPELINE = """
from flowy import Pipeline, step
from flowy_survey_plugin import Survey


@step(cache=False)
def collect():
    return Survey(["yes", "no", "yes"], name="poll", tags=["q1"], question="Ship it?")


@step(cache=False)
def tally(collect):
    return {"kind": type(collect).__name__, "facts": collect.fields(), "n": len(collect.value)}


@step(cache=False)
def forward(collect):
    return collect


pipeline = Pipeline("survey", [collect, tally, forward])
"""

READ_BACK = """
import json
from flowy.tracking.client import Client

with Client() as client:
    run = client.runs(limit=1)[0]
    outputs = client.outputs(run.run_id)
    print(json.dumps({
        "tally": client.load(outputs["tally"]),
        "collect": type(client.load(outputs["collect"])).__name__,
        "forward": outputs["forward"].metadata["flowy_asset"],
        "survey_assets": len(client.search_artifacts(asset_type="survey")),
    }))
"""


def install(site: Path, dist: str, module: str, source: str) -> None:
    """A distribution 'installed' on a PYTHONPATH folder through a bare *.dist-info."""
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{dist.replace('-', '_')}-0.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.3\n")
    (info / "entry_points.txt").write_text(f"[flowy]\n{dist} = {module}\n")


@pytest.fixture
def survey(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The third-party plugin module, importable as ``flowy_survey_plugin``."""
    import importlib

    site = tmp_path / "site"
    install(site, "flowy-survey", "flowy_survey_plugin", SURVEY_PLUGIN)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, "flowy_survey_plugin", raising=False)
    module = importlib.import_module("flowy_survey_plugin")
    yield module
    sys.modules.pop("flowy_survey_plugin", None)


def registry_of(*plugins: tuple[str, object]) -> MaterializerRegistry:
    return MaterializerRegistry(create_plugin_manager(entrypoints=False, plugins=plugins).registry)


def test_builtin_asset_types_are_registered_by_flowy_core_and_round_trip(tmp_path: Path) -> None:
    plugins = create_plugin_manager(entrypoints=False)
    registered = {r.name: (r.target, r.distribution) for r in plugins.registry.all("asset_type")}
    assert registered == {
        name: (f"flowy.tracking.assets:{cls}", "flowy-core")
        for name, cls in [
            ("artifact", "Artifact"),
            ("dataset", "Dataset"),
            ("featureset", "FeatureSet"),
            ("metrics", "Metrics"),
            ("model", "Model"),
            ("report", "Report"),
        ]
    }
    assert plugins.infos["flowy-core"].provides["asset_type"] == sorted(registered)
    materializers = MaterializerRegistry(plugins.registry)
    store = LocalArtifactStore(str(tmp_path / "artifacts"))
    for i, asset in enumerate(
        [
            Artifact([1]),
            Dataset([{"a": 1}, {"a": 2}], name="d", tags="raw", rows=2),
            Model({"w": [0.5]}, framework="numpy-ish"),
            Metrics({"acc": 0.9}),
            FeatureSet([{"x": 1.0}], transformations=["scale"]),
            Report("# Title", format="markdown"),
        ]
    ):
        ref = write_artifact(store, f"r/s{i}/out", "out", asset, materializers)
        loaded = read_artifact(store, ref, materializers)
        assert type(loaded) is type(asset)
        assert loaded.describe() == ref.metadata[ASSET_KEY] == asset.describe()


def test_a_plugin_asset_type_round_trips_and_is_kept_without_its_plugin(
    tmp_path: Path, survey: ModuleType
) -> None:
    with_plugin = registry_of(("flowy-survey", survey))
    store = LocalArtifactStore(str(tmp_path / "artifacts"))
    poll = survey.Survey(["yes", "no", "yes"], name="poll", tags="q1", question="Ship it?")
    ref = write_artifact(store, "r/s/out", "out", poll, with_plugin)
    description = {
        "type": "survey",
        "name": "poll",
        "tags": ["q1"],
        "properties": {},
        "fields": {"question": "Ship it?", "answers": 3},
    }
    assert ref.metadata[ASSET_KEY] == description
    loaded = read_artifact(store, ref, with_plugin)
    assert type(loaded) is survey.Survey
    assert (loaded.value, loaded.question, loaded.tags) == (
        ["yes", "no", "yes"],
        "Ship it?",
        ["q1"],
    )

    without = registry_of()  # the plugin was uninstalled: flowy-core alone
    kept = read_artifact(store, ref, without)
    assert type(kept) is RecordedAsset and kept.value == ["yes", "no", "yes"]
    assert kept.describe() == description
    again = write_artifact(store, "r/t/out", "out", kept, without)
    assert again.metadata[ASSET_KEY] == description


def test_an_asset_type_that_is_not_an_asset_class_names_its_plugin(tmp_path: Path) -> None:
    import importlib

    install(tmp_path / "site", "flowy-bad-asset", "flowy_bad_asset_plugin", NOT_AN_ASSET)
    sys.path.insert(0, str(tmp_path / "site"))
    try:
        bad = importlib.import_module("flowy_bad_asset_plugin")
        store = LocalArtifactStore(str(tmp_path / "artifacts"))
        ref = write_artifact(store, "r/s/out", "out", [1], registry_of())
        ref.metadata[ASSET_KEY] = {"type": "survey", "name": None, "tags": [], "fields": {}}
        with pytest.raises(PluginLoadError, match="flowy-bad-asset.*not a subclass"):
            read_artifact(store, ref, registry_of(("flowy-bad-asset", bad)))
    finally:
        sys.path.remove(str(tmp_path / "site"))
        sys.modules.pop("flowy_bad_asset_plugin", None)


def fit() -> Model:
    return Model({"w": [1.0, 2.0]})


def test_step_recorded_hook_registers_a_model_version_once(
    project: Path, plugins: FlowyPlugins
) -> None:
    result = run_pipeline(Pipeline("fit-once", [Step(fit)]), plugins=plugins, project=project)
    assert result.ok, result.steps
    with Client(plugins=plugins, project=project) as client:
        run = client.run(result.run_id)
        (record,) = client.steps(run.run_id)
        assert client.models.list() == []  # no register_model: nothing registered
        registering = Step(fit, register_model="forest")
        for _ in range(2):  # a cached step re-using the artifact calls it again
            plugins.hook.flowy_step_recorded(
                run=run, step=registering, record=record, store=client.store
            )
        (version,) = client.models.versions("forest")
        assert (version.version, version.artifact_id) == (1, record.outputs["fit"])
        assert version.run_id == run.run_id


def test_a_plugin_asset_type_travels_between_worker_processes(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / ".flowy").mkdir(parents=True)
    (project / "pipeline.py").write_text(PIPELINE)
    install(tmp_path / "site", "flowy-survey", "flowy_survey_plugin", SURVEY_PLUGIN)

    def run_and_read(load_plugins: str) -> dict[str, object]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWY_")}
        env.update(
            FLOWY_HOME=str(tmp_path / "home"),
            FLOWY_LOAD_PLUGINS=load_plugins,
            PYTHONPATH=str(tmp_path / "site"),
        )
        for command in ([*FLOWY, "run", "pipeline.py"], [sys.executable, "-c", READ_BACK]):
            done = subprocess.run(
                command,
                cwd=project,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert done.returncode == 0, f"{command}: {done.stdout}\n{done.stderr}"
        read: dict[str, object] = json.loads(done.stdout)
        return read

    facts = {"question": "Ship it?", "answers": 3}
    installed = run_and_read(f"{FIRST_PARTY},flowy-survey")
    assert installed["tally"] == {"kind": "Survey", "facts": facts, "n": 3}
    assert installed["collect"] == "Survey"
    assert installed["forward"] == {
        "type": "survey",
        "name": "poll",
        "tags": ["q1"],
        "properties": {},
        "fields": facts,
    }
    # The plugin disabled (its module still importable by the pipeline): the step gets the
    # recorded asset, and passing it on records the same type and facts again.
    disabled = run_and_read(FIRST_PARTY)
    assert disabled["tally"] == {"kind": "RecordedAsset", "facts": facts, "n": 3}
    assert disabled["collect"] == "RecordedAsset"
    assert disabled["forward"] == installed["forward"]
    assert disabled["survey_assets"] == 4  # collect and forward, in each of the two runs
