"""Stack files and settings: pydantic validation, masking, and errors that say what to do."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from flowy import hookimpl
from flowy.kernel.config import DEFAULTS, _settings_model, load_settings
from flowy.kernel.errors import ComponentNotFoundError, ConfigError
from flowy.kernel.plugins import create_plugin_manager
from flowy.kernel.redact import mask
from flowy.stacks.definitions import get_stack, list_stacks
from flowy.stacks.resolution import check_stack
from flowy.stacks.stackfile import validate_options


class Recorder:
    """A tracker component with a typed signature and no ``Options`` model."""

    def __init__(self, path: str, every: int = 1) -> None:
        self.path, self.every = path, every


class FakePlugin:
    """Registers a tracker and stub stores, so stacks check without other distributions."""

    @hookimpl
    def flowy_register_trackers(self, register):
        register("recorder", f"{__name__}:Recorder")

    @hookimpl
    def flowy_register_executors(self, register):
        register("stub", "collections:OrderedDict")

    @hookimpl
    def flowy_register_artifact_stores(self, register):
        register("stub", "collections:OrderedDict")

    @hookimpl
    def flowy_register_metadata_stores(self, register):
        register("stub", "collections:OrderedDict")


STUBS = (
    '[executor]\ntype = "stub"\n[artifact_store]\ntype = "stub"\n[metadata_store]\ntype = "stub"\n'
)


@pytest.fixture
def plugins():
    return create_plugin_manager(entrypoints=False, plugins=[("flowy-fake", FakePlugin())])


def write_stack(project: Path, name: str, text: str) -> Path:
    path = project / ".flowy" / "stacks" / f"{name}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def test_defaults_match_the_pydantic_model():
    assert _settings_model()().model_dump() == DEFAULTS


def test_settings_without_files_or_variables_do_not_import_pydantic(tmp_path):
    code = (
        "import sys; from flowy.kernel.config import load_settings; s = load_settings(); "
        "print('pydantic' in sys.modules, s['active_stack'])"
    )
    env = {"FLOWY_HOME": str(tmp_path / "home"), "FLOWY_PROJECT": str(tmp_path), "PATH": ""}

    def run() -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-c", code]
        return subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)

    out = run()
    assert out.stdout.split() == ["False", "None"], out.stderr
    (tmp_path / ".flowy").mkdir()
    (tmp_path / ".flowy" / "config.toml").write_text('active_stack = "other"\n')
    out = run()
    assert out.stdout.split() == ["True", "other"], out.stderr


def test_settings_files_are_still_validated(flowy_project):
    (flowy_project / ".flowy" / "config.toml").write_text("progress = 'loud'\n")
    with pytest.raises(ConfigError, match=r"config.toml: progress: Input should be a valid"):
        load_settings(flowy_project)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('description = 3\n[executor]\ntype = "stub"\n', "field description"),
        ('executor = "stub"\n', "field executor: Input should be a valid dictionary"),
        ("[executor]\nworkers = 2\n", "field executor.type: Field required"),
        ('[executor]\ntype = ""\n', "field executor.type: String should have at least 1"),
    ],
)
def test_bad_stack_file_names_file_stack_and_field(flowy_project, plugins, text, fragment):
    path = write_stack(flowy_project, "bad", text)
    with pytest.raises(ConfigError) as info:
        get_stack("bad", plugins, flowy_project)
    message = str(info.value)
    assert str(path) in message and "stack 'bad'" in message and fragment in message


def test_a_broken_stack_file_does_not_break_other_stacks(flowy_project, plugins):
    write_stack(flowy_project, "bad", "executor = 1\n")
    write_stack(flowy_project, "good", STUBS)
    stacks = list_stacks(plugins, flowy_project)
    assert "field executor" in (stacks["bad"].error or "")
    assert stacks["good"].error is None
    assert set(check_stack(get_stack("good", plugins, flowy_project), plugins, flowy_project)) == {
        "executor",
        "artifact_store",
        "metadata_store",
    }


@pytest.mark.parametrize(
    ("tracker", "fragment"),
    [
        ('type = "recorder"\npath = "x"\ncolour = "red"\n', "field tracker.colour: Extra inputs"),
        ('type = "recorder"\npath = "x"\nevery = "often"\n', "field tracker.every: Input should"),
        ('type = "recorder"\n', "field tracker.path: Field required"),
    ],
)
def test_unknown_option_and_wrong_type_are_refused_before_running(
    flowy_project, plugins, tracker, fragment
):
    path = write_stack(flowy_project, "t", STUBS + "[tracker]\n" + tracker)
    with pytest.raises(ConfigError) as info:
        check_stack(get_stack("t", plugins, flowy_project), plugins, flowy_project)
    assert str(path) in str(info.value) and "Stack 't'" in str(info.value)
    assert fragment in str(info.value)


def test_unknown_component_kind_is_named(flowy_project, plugins):
    write_stack(flowy_project, "k", STUBS + '[feature_store]\ntype = "feast"\n')
    with pytest.raises(
        ConfigError,
        match=r"Stack 'k' \(project: .*k.toml\): unknown component kind 'feature_store'",
    ):
        check_stack(get_stack("k", plugins, flowy_project), plugins, flowy_project)


def test_signature_options_keep_class_defaults_and_coerce_types():
    assert validate_options(Recorder, {"path": "p", "every": "3"}, "w", "tracker") == {
        "path": "p",
        "every": 3,
    }


def test_env_references_resolve_for_the_component_but_stay_masked(
    flowy_project, plugins, monkeypatch
):
    write_stack(
        flowy_project,
        "s",
        STUBS + '[tracker]\ntype = "recorder"\npath = "https://bob:{env:TRACK_PW}@host/x"\n',
    )
    monkeypatch.setenv("TRACK_PW", "hunter2")
    checked = check_stack(get_stack("s", plugins, flowy_project), plugins, flowy_project)
    assert checked["tracker"].options["path"] == "https://bob:hunter2@host/x"
    assert "hunter2" not in repr(checked["tracker"].describe())
    monkeypatch.delenv("TRACK_PW")
    with pytest.raises(ConfigError, match="TRACK_PW, which is not set"):
        check_stack(get_stack("s", plugins, flowy_project), plugins, flowy_project)


def test_mask_hides_secret_keys_and_url_passwords_but_shows_references():
    shown = mask(
        {
            "url": "postgresql://app:s3cret@db/flowy",
            "url_ref": "postgresql://app:{env:PW}@db/flowy",
            "token": "abc",
            "api_token": "{env:API_TOKEN}",
            "nested": {"password": 1234, "region": "eu"},
            "bucket": "b",
        },
    )
    assert shown == {
        "url": "postgresql://app:****@db/flowy",
        "url_ref": "postgresql://app:{env:PW}@db/flowy",
        "token": "****",
        "api_token": "{env:API_TOKEN}",
        "nested": {"password": "****", "region": "eu"},
        "bucket": "b",
    }


def test_uninstalled_provider_is_named_with_the_install_command(flowy_project, plugins):
    write_stack(
        flowy_project, "u", STUBS + '[tracker]\ntype = "jsonl"\nprovided_by = "flowy-jsonl"\n'
    )
    with pytest.raises(ComponentNotFoundError) as info:
        check_stack(get_stack("u", plugins, flowy_project), plugins, flowy_project)
    assert "Stack 'u'" in str(info.value)
    assert "from flowy-jsonl, which is not installed: `pip install flowy-jsonl`" in str(info.value)


def test_provider_that_failed_to_load_is_named_with_its_error(flowy_project, plugins):
    from flowy.kernel.plugins import PluginInfo

    plugins.infos["flowy-jsonl"] = PluginInfo(
        "flowy-jsonl", "flowy-jsonl", "1.0", "m", status="failed", error="ImportError: no orjson"
    )
    write_stack(
        flowy_project, "u", STUBS + '[tracker]\ntype = "jsonl"\nprovided_by = "flowy-jsonl"\n'
    )
    with pytest.raises(
        ComponentNotFoundError, match="installed but failed: ImportError: no orjson"
    ):
        check_stack(get_stack("u", plugins, flowy_project), plugins, flowy_project)


def test_secrets_reach_workers_as_env_references_only(flowy_project, plugins, monkeypatch):
    """Task specs (pool workers, Dask, SageMaker manifests in S3) never carry a secret's value."""
    from flowy.stacks.definitions import expand_env

    write_stack(
        flowy_project,
        "s",
        """
        [executor]
        type = "stub"
        [metadata_store]
        type = "stub"
        [artifact_store]
        type = "stub"
        api_token = "{env:STORE_TOKEN}"
        endpoint = "https://svc:{env:STORE_PW}@host/x"
        region = "{env:STORE_REGION}"
        root = "{project}/artifacts"
        [artifact_store.client]
        password = "{env:STORE_PW}"
        retries = 3
        """,
    )
    monkeypatch.setenv("STORE_TOKEN", "t0k3n")
    monkeypatch.setenv("STORE_PW", "hunter2")
    monkeypatch.setenv("STORE_REGION", "eu-west-1")
    store = check_stack(get_stack("s", plugins, flowy_project), plugins, flowy_project)[
        "artifact_store"
    ]
    assert store.options["api_token"] == "t0k3n"  # the component itself gets the values
    portable = store.portable_options
    assert portable == {
        "api_token": "{env:STORE_TOKEN}",
        "endpoint": "https://svc:{env:STORE_PW}@host/x",
        "region": "eu-west-1",  # not a secret: resolved here, as before
        "root": f"{flowy_project}/artifacts",
        "client": {"password": "{env:STORE_PW}", "retries": 3},
    }
    assert "t0k3n" not in repr(portable) and "hunter2" not in repr(portable)
    # A worker resolves the references from its own environment...
    assert expand_env(portable, "The 'stub' artifact store") == store.options
    # ...and names the missing variable when its environment lacks one.
    monkeypatch.delenv("STORE_PW")
    with pytest.raises(ConfigError, match=r"option 'endpoint' reads the environment variable "
                       r"STORE_PW, which is not set on this worker"):  # fmt: skip
        expand_env(portable, "The 'stub' artifact store")


def test_a_worker_opens_the_artifact_store_from_env_references(tmp_path, monkeypatch):
    import json

    from flowy.run.worker import runtime_for

    monkeypatch.setenv("FLOWY_TEST_WORKER_ARTIFACTS", str(tmp_path / "arts"))
    options = json.dumps({"path": "{env:FLOWY_TEST_WORKER_ARTIFACTS}"})
    runtime = runtime_for("local", options)
    assert runtime.artifact_store.root == str(tmp_path / "arts")
