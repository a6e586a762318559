"""A plugin author's first day (issue #12 items 11-16), through the real `flowy` command.

Each plugin is a throwaway distribution on PYTHONPATH, installed the way
tests/test_cli_plugin_health.py does it; every test asserts what the message
tells the user to do.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

PIPELINE = """
from flowy import Pipeline, step


@step
def answer() -> int:
    return 42


pipeline = Pipeline("tiny", [answer])
"""

Flowy = Callable[..., subprocess.CompletedProcess[str]]


def install(site: Path, dist: str, module: str, source: str) -> None:
    """A distribution 'installed' on a PYTHONPATH folder through a bare *.dist-info."""
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{dist.replace('-', '_')}-0.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.3\n")
    (info / "entry_points.txt").write_text(f"[flowy]\n{dist} = {module}\n")


@pytest.fixture
def cli(
    tmp_path: Path, flowy_env: Callable[..., dict[str, str]], flowy_runner: Callable[..., Flowy]
) -> Callable[..., Flowy]:
    """``cli([extra dists], **env)`` -> a runner in a fresh project with those plugins loaded."""
    project = tmp_path / "project"
    (project / ".flowy").mkdir(parents=True)
    (project / "pipeline.py").write_text(PIPELINE)

    def make(extra: list[str], **extra_env: str) -> Flowy:
        env = flowy_env(
            tmp_path / "home",
            extra,
            PYTHONPATH=str(tmp_path / "site"),
            COLUMNS="200",
            **extra_env,
        )
        return flowy_runner(project, env)

    return make


def one_line(text: str) -> str:
    return " ".join(text.split())


BOOM_TRACKER = """
from flowy import hookimpl


class Boom:
    @hookimpl
    def flowy_step_finished(self, run, task, result):
        raise RuntimeError("tracker bug")


@hookimpl
def flowy_register_trackers(register):
    register("boom", "flowy_boom_plugin:Boom")
"""

TRACKED_STACK = (
    '[executor]\ntype = "local"\n'
    '[metadata_store]\ntype = "sqlite"\nurl = "sqlite:///{project}/.flowy/t.db"\n'
    '[artifact_store]\ntype = "local"\npath = "{project}/.flowy/t"\n'
    '[tracker]\ntype = "boom"\n'
)


def _tracked(cli: Callable[..., Flowy], tmp_path: Path, **env: str) -> Flowy:
    install(tmp_path / "site", "flowy-boom", "flowy_boom_plugin", BOOM_TRACKER)
    stack = tmp_path / "project" / ".flowy" / "stacks" / "tracked.toml"
    stack.parent.mkdir(parents=True)
    stack.write_text(TRACKED_STACK)
    return cli(["flowy-boom"], **env)


def test_trace_plugins_shows_every_engine_hook_call(
    cli: Callable[..., Flowy], tmp_path: Path
) -> None:
    """Item 13: the engine's hook calls go through pluggy, so FLOWY_TRACE_PLUGINS sees them."""
    flowy = _tracked(cli, tmp_path, FLOWY_TRACE_PLUGINS="1")
    done = flowy("run", "pipeline.py", "--stack", "tracked")
    trace = [line for line in done.stderr.splitlines() if line.startswith("[flowy trace]")]
    hooks = {line.split()[2] for line in trace}
    assert {"flowy_step_finished", "flowy_pipeline_finished"} <= hooks, done.stderr
    assert "flowy_register_trackers" in hooks
    assert any("tracker 'boom' from flowy-boom 0.3" in line for line in trace), trace


def test_a_raising_tracker_is_a_warning_naming_its_distribution(
    cli: Callable[..., Flowy], tmp_path: Path
) -> None:
    """Item 14: the warning names the tracker and its distribution, never tracker-<run id>-0."""
    flowy = _tracked(cli, tmp_path)
    done = flowy("run", "pipeline.py", "--stack", "tracked")
    text = one_line(done.stderr)
    assert "plugin tracker 'boom' from flowy-boom 0.3 raised in flowy_step_finished" in text
    assert "RuntimeError: tracker bug" in text
    assert "tracker-" not in text


TAKEOVER = """
from flowy import hookimpl


@hookimpl
def flowy_register_stacks(register):
    register(
        "local",
        {
            "executor": {"type": "local"},
            "metadata_store": {"type": "sqlite", "url": "sqlite:///{project}/.flowy/x.db"},
            "artifact_store": {"type": "local", "path": "{project}/.flowy/x"},
        },
    )
    register("half", {"executor": {"type": "local"}})
"""


def test_a_plugin_stack_named_local_is_a_clash_and_local_keeps_working(
    cli: Callable[..., Flowy], tmp_path: Path
) -> None:
    """Item 11: a plugin's `local` stack clashes (reported), it never replaces flowy-core's;
    an incomplete plugin stack is a plugin error from `plugins check`, not a run failure."""
    install(tmp_path / "site", "flowy-takeover", "flowy_takeover_plugin", TAKEOVER)
    flowy = cli(["flowy-takeover"])
    assert "Run " in flowy("run", "pipeline.py").stdout
    check = one_line(flowy("plugins", "check", code=1).stdout)
    assert (
        "its stack 'local' clashes with the stack 'local' of flowy-core, which keeps the name; "
        "rename the plugin's stack (e.g. 'takeover-local')" in check
    )
    assert (
        "its stack 'half' has no artifact_store, metadata_store; every stack needs executor, "
        "artifact_store, metadata_store: add them to the components it registers" in check
    )
    assert "flowy-takeover (flowy-takeover 0.3)" in check or "flowy-takeover 0.3" in check


def test_strict_plugins_check_reports_every_failure(
    cli: Callable[..., Flowy], tmp_path: Path
) -> None:
    """Item 16: FLOWY_STRICT_PLUGINS=1 `plugins check` lists all problems, not the first."""
    install(tmp_path / "site", "flowy-takeover", "flowy_takeover_plugin", TAKEOVER)
    install(tmp_path / "site", "flowy-broken", "flowy_broken_plugin", "import nosuchmodule_xyz\n")
    strict = cli(["flowy-takeover", "flowy-broken"], FLOWY_STRICT_PLUGINS="1")
    done = strict("plugins", "check", code=1)
    check = one_line(done.stdout)
    assert "flowy-broken" in check and "No module named 'nosuchmodule_xyz'" in check, done.stderr
    assert "clashes with the stack 'local'" in check
    assert "its stack 'half' has no artifact_store" in check


RIVAL = """
from flowy import hookimpl


@hookimpl
def flowy_register_executors(register):
    register("local", "flowy_executor_local.executor:LocalExecutor")


@hookimpl
def flowy_register_artifact_stores(register):
    register("local", "flowy_store_sqlite.local_store:LocalArtifactStore")
"""


def test_a_component_name_clash_leaves_the_default_stack_and_provided_by_working(
    cli: Callable[..., Flowy], tmp_path: Path
) -> None:
    """Item 12: `local` still means flowy-executor-local's executor; provided_by picks."""
    install(tmp_path / "site", "flowy-rival", "flowy_rival_plugin", RIVAL)
    flowy = cli(["flowy-rival"])
    assert "Run " in flowy("run", "pipeline.py").stdout
    stacks = tmp_path / "project" / ".flowy" / "stacks"
    stacks.mkdir()
    (stacks / "pinned.toml").write_text(
        '[executor]\ntype = "local"\nprovided_by = "flowy-executor-local"\n'
        '[metadata_store]\ntype = "sqlite"\nurl = "sqlite:///{project}/.flowy/p.db"\n'
        '[artifact_store]\ntype = "local"\npath = "{project}/.flowy/p"\n'
        'provided_by = "flowy-rival"\n'
    )
    assert "Run " in flowy("run", "pipeline.py", "--stack", "pinned").stdout
    (stacks / "open.toml").write_text(
        (stacks / "pinned.toml").read_text().replace("provided_by", "x_")
    )
    text = one_line(flowy("run", "pipeline.py", "--stack", "open", code=1).stderr)
    assert "Name the one you want with a qualified name: 'flowy-executor-local:local'" in text


def test_stack_update_with_a_qualified_name_keeps_the_options(
    cli: Callable[..., Flowy], tmp_path: Path
) -> None:
    """Item 12: `--artifact-store dist:name` picks a distribution; the options are merged."""
    install(tmp_path / "site", "flowy-rival", "flowy_rival_plugin", RIVAL)
    flowy = cli(["flowy-rival"])
    flowy(
        "stack", "register", "mine", "--executor", "flowy-executor-local:local",
        "--metadata-store", "sqlite", "--metadata-store-option",
        "url=sqlite:///{project}/.flowy/m.db", "--artifact-store", "flowy-rival:local",
        "--artifact-store-option", "path={project}/.flowy/mine",
    )  # fmt: skip
    flowy("stack", "update", "mine", "--artifact-store", "flowy-store-sqlite:local")
    saved = (tmp_path / "project" / ".flowy" / "stacks" / "mine.toml").read_text()
    assert 'type = "flowy-store-sqlite:local"' in saved
    assert 'path = "{project}/.flowy/mine"' in saved
    assert 'provided_by = "flowy-store-sqlite"' in saved


def test_stack_list_shows_why_a_stack_whose_plugin_is_gone_cannot_be_used(
    cli: Callable[..., Flowy], tmp_path: Path
) -> None:
    """Item 16: `stack list` gives the error (and what to install), never `"error": null`."""
    stacks = tmp_path / "project" / ".flowy" / "stacks"
    stacks.mkdir()
    (stacks / "orphan.toml").write_text(
        '[executor]\ntype = "warp"\nprovided_by = "flowy-warp"\n'
        '[metadata_store]\ntype = "sqlite"\nurl = "sqlite:///{project}/.flowy/o.db"\n'
        '[artifact_store]\ntype = "local"\npath = "{project}/.flowy/o"\n'
    )
    flowy = cli([])
    rows = {r["name"]: r for r in json.loads(flowy("stack", "list", "--json").stdout)}
    error = one_line(rows["orphan"]["error"] or "")
    assert "No executor named 'warp' is installed" in error
    assert "from flowy-warp, which is not installed: `pip install flowy-warp`" in error
    assert rows["local"]["error"] is None
    assert "pip install flowy-warp" in one_line(flowy("stack", "list").stdout)


MATERIALIZER_TWIN = """
from flowy import hookimpl


@hookimpl
def flowy_register_materializers(register):
    register("json", "flowy.artifacts.json_materializer:JsonMaterializer", types=["builtins.dict"])
"""


def test_a_materializer_clash_says_what_to_do_without_naming_stacks(
    cli: Callable[..., Flowy], tmp_path: Path
) -> None:
    """Item 16: stacks never name materializers, so the clash advice must not say so."""
    install(tmp_path / "site", "flowy-twin", "flowy_twin_plugin", MATERIALIZER_TWIN)
    flowy = cli(["flowy-twin"])
    text = one_line(flowy("plugins").stdout)
    assert "Clash: materializer 'json' is registered by flowy-core and flowy-twin" in text
    assert "stacks must name" not in text and "a stack must name" not in text
    assert "`flowy materializers which TYPE` shows which" in text
    assert "Uninstall flowy-core or flowy-twin (or set FLOWY_DISABLE_PLUGINS)" in text


def test_materializers_which_dict_says_it_depends_on_the_value(
    cli: Callable[..., Flowy],
) -> None:
    """Item 16: a plain dict is written as JSON; torch takes only dicts of tensors."""
    flowy = cli([])
    text = one_line(flowy("materializers", "which", "builtins.dict").stdout)
    assert "Chosen: torch" not in text
    assert "otherwise json (Python builtins as JSON)" in text


DEQUE_PIPELINE = """
import collections

from flowy import Pipeline, step


@step
def queue() -> collections.deque:
    return collections.deque([1, 2])


pipeline = Pipeline("queue", [queue])
"""


def test_a_run_warns_about_plugins_that_failed_and_names_them_for_a_missing_materializer(
    cli: Callable[..., Flowy], tmp_path: Path
) -> None:
    """Item 15: a non-strict run warns; the materializer error names the failed plugin."""
    install(tmp_path / "site", "flowy-deques", "flowy_deques_plugin", "import nosuchmodule_q\n")
    (tmp_path / "project" / "queue.py").write_text(DEQUE_PIPELINE)
    flowy = cli(["flowy-deques"])
    done = flowy("run", "pipeline.py")
    warned = one_line(done.stderr)
    assert (
        "1 plugin(s) failed to load, and this run goes on without them: flowy-deques 0.3" in warned
    )
    assert "No module named 'nosuchmodule_q'" in warned
    assert "Fix or reinstall them (`flowy plugins check` lists every failure)" in warned
    failed = flowy("run", "queue.py", code=1)
    logs = one_line(failed.stdout + failed.stderr)
    assert "Plugins that failed to load (one may provide it): flowy-deques 0.3" in logs, logs


DEQUE_MATERIALIZER = """
import collections
import json

from flowy import hookimpl


class DequeMaterializer:
    name = "deque"
    version = "1"
    extension = ".json"
    safe = True

    def accepts(self, obj):
        return True

    def save(self, obj, f):
        f.write(json.dumps(list(obj)).encode())
        return {"length": len(obj)}

    def load(self, f, type_name):
        return collections.deque(json.loads(f.read()))


@hookimpl
def flowy_register_materializers(register):
    register(
        "deque",
        "flowy_deque_plugin:DequeMaterializer",
        types=["collections.deque"],
        extension=".json",
    )
"""


def test_an_artifact_records_its_materializer_distribution_for_the_reinstall_hint(
    cli: Callable[..., Flowy], tmp_path: Path
) -> None:
    """Item 15: after the plugin is uninstalled, loading names the distribution to reinstall."""
    install(tmp_path / "site", "flowy-deque", "flowy_deque_plugin", DEQUE_MATERIALIZER)
    (tmp_path / "project" / "queue.py").write_text(DEQUE_PIPELINE)
    flowy = cli(["flowy-deque"])
    flowy("run", "queue.py")
    row = json.loads(flowy("artifacts", "list", "--json").stdout)[0]
    shown = flowy("artifacts", "show", row["artifact_id"], "--no-value", "--json").stdout
    assert '"flowy_materializer_distribution": "flowy-deque"' in shown, shown
    without = cli([])  # flowy-deque no longer loaded: as if uninstalled
    done = without("artifacts", "show", row["artifact_id"], code=1)
    text = one_line(done.stdout + done.stderr)
    assert "materializer 'deque', which is not installed" in text, text
    assert "It came from flowy-deque: reinstall it with `pip install flowy-deque`" in text


FRAMEWORKLESS_MATERIALIZER = """
from flowy import hookimpl


@hookimpl
def flowy_register_materializers(register):
    register("deque", "flowy_frameless_mat:DequeMaterializer", types=["collections.deque"])
"""


def test_a_plugin_materializer_missing_its_framework_names_what_to_install(
    cli: Callable[..., Flowy], tmp_path: Path
) -> None:
    """Item 15: a materializer whose framework is missing is the plugin's, not a Flowy bug."""
    site = tmp_path / "site"
    install(site, "flowy-frameless", "flowy_frameless_plugin", FRAMEWORKLESS_MATERIALIZER)
    (site / "flowy_frameless_mat.py").write_text(
        "import nosuchframework_z\n\n\nclass DequeMaterializer:\n    pass\n"
    )
    (tmp_path / "project" / "queue.py").write_text(DEQUE_PIPELINE)
    flowy = cli(["flowy-frameless"])
    done = flowy("run", "queue.py", code=1)
    text = one_line(done.stdout + done.stderr)
    assert "bug in Flowy" not in text and "Flowy bug" not in text, text
    assert "needs the module 'nosuchframework_z', which is not installed" in text, text
    assert "flowy-frameless" in text


def test_stack_describe_live_shows_what_each_component_describes(
    cli: Callable[..., Flowy], tmp_path: Path
) -> None:
    """Item 16: a component's describe() is shown by `stack describe --live`, and only then."""
    flowy = cli([])
    project = tmp_path / "project"
    plain = json.loads(flowy("stack", "describe", "--json").stdout)
    assert "describe" not in plain["components"]["artifact_store"]
    assert not (project / ".flowy" / "artifacts").exists()
    live = json.loads(flowy("stack", "describe", "--live", "--json").stdout)
    assert live["components"]["artifact_store"]["describe"] == {
        "path": str(project / ".flowy" / "artifacts")
    }
    assert "url" in live["components"]["metadata_store"]["describe"]
    text = one_line(flowy("stack", "describe", "--live").stdout)
    assert f"path={project / '.flowy' / 'artifacts'}" in text
