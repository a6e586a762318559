"""The CLI's error boundary, through the real `flowy` command: faults of the machine or of
a plugin are named with what to do, never called "probably a bug in Flowy".

How the faults are made real, as root in a container:

* a read-only file system: ``unshare --mount`` gives the command its own mount
  namespace, where the project folder is bind-mounted read-only; the kernel
  answers EROFS, exactly as on a read-only disk;
* a permission refused: root ignores file modes through the capabilities
  CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH and CAP_FOWNER, so the command runs
  under ``setpriv --bounding-set -dac_override,...`` (still uid 0, but bound by
  the modes like any user; ``nobody`` cannot reach this interpreter under
  /root). Run as an ordinary user, the tests need neither: ``chmod`` suffices;
* a damaged database: bytes written over a real SQLite file;
* a plugin's fault: a throwaway distribution (a package plus a ``*.dist-info``
  folder) on PYTHONPATH whose components fail as real ones do.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

FLOWY_SCRIPT = Path(sys.executable).with_name("flowy")
FLOWY = [str(FLOWY_SCRIPT)] if FLOWY_SCRIPT.exists() else [sys.executable, "-m", "flowy_cli.main"]
FIRST_PARTY = "flowy-executor-local,flowy-store-sqlite,flowy-materializers"
FIXTURE_DIST = "flowy-fixture-faults"

PIPELINE = """
from flowy import Pipeline, step


@step
def answer() -> int:
    return 42


pipeline = Pipeline("tiny", [answer])
"""

FIXTURE_INIT = '''
"""Entry-point module of flowy-fixture-faults: components that fail as real ones do."""
from flowy import hookimpl


@hookimpl
def flowy_register_executors(register):
    register("picky", "flowy_fixture_faults.components:PickyExecutor")


@hookimpl
def flowy_register_metadata_stores(register):
    register("needs-framework", "flowy_fixture_faults.components:NeedsFrameworkStore")
'''

FIXTURE_COMPONENTS = '''
from flowy_executor_local.executor import LocalExecutor
from flowy_store_sqlite.sqlite import SQLiteMetadataStore


class PickyExecutor(LocalExecutor):
    """Checks an option's value in its constructor, as many executors do."""

    Options = None  # options are checked against this signature, not LocalExecutor's model

    def __init__(self, workers: int = 1) -> None:
        if not 1 <= workers <= 8:
            raise ValueError(f"workers must be between 1 and 8, got {workers}")
        super().__init__(max_workers=workers)


class NeedsFrameworkStore(SQLiteMetadataStore):
    """Imports its framework when first used, as plugins do to keep start-up fast."""

    def list_runs(self, *args, **kwargs):
        import flowy_fixture_missing_framework  # noqa: F401 - not installed

        return super().list_runs(*args, **kwargs)
'''

Flowy = Callable[..., subprocess.CompletedProcess[str]]


def install_fixture(site: Path) -> None:
    """flowy-fixture-faults 0.3 'installed' on PYTHONPATH, with an extra for its framework."""
    package = site / "flowy_fixture_faults"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(FIXTURE_INIT)
    (package / "components.py").write_text(FIXTURE_COMPONENTS)
    info = site / "flowy_fixture_faults-0.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {FIXTURE_DIST}\nVersion: 0.3\n"
        "Provides-Extra: fast\n"
        "Requires-Dist: flowy-fixture-missing-framework>=2; extra == 'fast'\n"
    )
    (info / "entry_points.txt").write_text(f"[flowy]\n{FIXTURE_DIST} = flowy_fixture_faults\n")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / ".flowy").mkdir(parents=True)
    (root / "pipeline.py").write_text(PIPELINE)
    (tmp_path / "home").mkdir()
    install_fixture(tmp_path / "site")
    return root


def runner(project: Path, wrapper: list[str] | None = None) -> Flowy:
    """``flowy(*args, code=1)`` in ``project``; ``wrapper`` prefixes the command (setpriv)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWY_")}
    env.update(
        FLOWY_HOME=str(project.parent / "home"),
        FLOWY_LOAD_PLUGINS=f"{FIRST_PARTY},{FIXTURE_DIST}",
        PYTHONPATH=os.pathsep.join(
            filter(None, [str(project.parent / "site"), os.environ.get("PYTHONPATH")])
        ),
        COLUMNS="200",
    )

    def flowy(
        *args: str, code: int = 0, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [*(wrapper or []), *FLOWY, *args], cwd=cwd or project, env=env,
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == code, f"{args}: {done.returncode}\n{done.stdout}{done.stderr}"
        return done

    return flowy


def message(done: subprocess.CompletedProcess[str]) -> str:
    """The error paragraph, unwrapped; never a traceback, never a bug report."""
    assert "Traceback" not in done.stderr, done.stderr
    text = " ".join(done.stderr.split())
    assert "bug" not in text.lower(), text
    assert text.startswith("Error: "), text
    return text


def without_file_permissions() -> list[str]:
    """A prefix under which the command obeys file modes (root otherwise overrides them)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: file modes cannot be enforced")
    return [setpriv, "--bounding-set", "-dac_override,-dac_read_search,-fowner"]


# -- the database --------------------------------------------------------------


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_database_is_named_with_what_to_do(project: Path, damage: str):
    flowy = runner(project)
    flowy("run", "pipeline.py")
    db = project / ".flowy" / "metadata.db"
    for sidecar in db.parent.glob("metadata.db-*"):
        sidecar.unlink()
    if damage == "garbage":
        db.write_bytes(b"this is not a database " * 400)
    else:
        data = db.read_bytes()
        db.write_bytes(data[: len(data) // 2])  # a copy cut short
    done = flowy("runs", "list", code=1)
    text = message(done)
    assert str(db) in text
    assert "backup" in text


def test_a_read_only_database_file_is_named(project: Path):
    """SQLITE_READONLY: a store's write to a file it may read but not write."""
    wrapper = without_file_permissions()
    flowy = runner(project)
    flowy("run", "pipeline.py")
    db = project / ".flowy" / "metadata.db"
    db.chmod(0o444)
    try:
        done = runner(project, wrapper)("run", "pipeline.py", "--no-cache", code=1)
    finally:
        db.chmod(0o644)
    text = message(done)
    assert str(db) in text
    assert "read-only" in text and "write access" in text


def test_a_locked_database_is_named(project: Path):
    """Another process holds the write lock longer than the store's busy_timeout."""
    flowy = runner(project)
    flowy("run", "pipeline.py")
    stacks = project / ".flowy" / "stacks"
    stacks.mkdir()
    (stacks / "impatient.toml").write_text(
        textwrap.dedent("""
        [executor]
        type = "local"

        [metadata_store]
        type = "sqlite"
        url = "sqlite:///{project}/.flowy/metadata.db"
        busy_timeout = 0.2

        [artifact_store]
        type = "local"
        path = "{project}/.flowy/artifacts"
        """)
    )
    db = project / ".flowy" / "metadata.db"
    holder = sqlite3.connect(db, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")  # held for the whole command
        done = flowy("run", "pipeline.py", "--stack", "impatient", "--no-cache", code=1)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    text = message(done)
    assert str(db) in text
    assert "locked by another process" in text and "busy_timeout" in text


# -- the file system -------------------------------------------------------------


def test_permission_denied_names_the_file(project: Path):
    wrapper = without_file_permissions()
    (project / ".flowy").chmod(0o555)
    try:
        done = runner(project, wrapper)("config", "set", "progress", "false", code=1)
    finally:
        (project / ".flowy").chmod(0o755)
    text = message(done)
    assert "Permission denied" in text
    assert str(project / ".flowy") in text


def test_a_read_only_file_system_names_the_file(project: Path, tmp_path: Path):
    """`flowy init` into a folder bind-mounted read-only in the command's own mount namespace."""
    unshare = shutil.which("unshare")
    if os.geteuid() != 0 or unshare is None:
        pytest.skip("a read-only bind mount needs root and unshare")
    probe = subprocess.run([unshare, "--mount", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"no mount namespace here: {probe.stderr.decode().strip()}")
    target = tmp_path / "read-only"
    target.mkdir()
    mount = f"mount --bind '{target}' '{target}' && mount -o remount,bind,ro '{target}'"
    wrapper = [unshare, "--mount", "sh", "-c", f'{mount} && exec "$@"', "--"]
    done = runner(project, wrapper)("init", code=1, cwd=target)
    text = message(done)
    assert "read-only" in text
    assert str(target) in text
    assert not any(target.iterdir())


def test_a_full_disk_names_the_file(project: Path, tmp_path: Path):
    """`flowy init` onto a full file system: a 64 KiB tmpfs, filled, in its own mount namespace."""
    unshare = shutil.which("unshare")
    if os.geteuid() != 0 or unshare is None:
        pytest.skip("mounting a small tmpfs needs root and unshare")
    probe = subprocess.run([unshare, "--mount", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"no mount namespace here: {probe.stderr.decode().strip()}")
    target = tmp_path / "full"
    target.mkdir()
    fill = (
        f"mount -t tmpfs -o size=64k tmpfs '{target}' && "
        f"(head -c 1000000 /dev/zero > '{target}/filler' 2>/dev/null; true)"
    )
    wrapper = [unshare, "--mount", "sh", "-c", f'{fill} && exec "$@"', "--"]
    done = runner(project, wrapper)("init", code=1, cwd=target)
    text = message(done)
    assert f"No space left to write {target / 'pipeline.py'}" in text
    assert "Free space on that disk" in text


# -- plugins --------------------------------------------------------------------


def write_stack(project: Path, name: str, executor: str, metadata_store: str) -> None:
    stacks = project / ".flowy" / "stacks"
    stacks.mkdir(exist_ok=True)
    (stacks / f"{name}.toml").write_text(
        textwrap.dedent(f"""
        [executor]
        {executor}

        [metadata_store]
        {metadata_store}
        url = "sqlite:///{{project}}/.flowy/metadata.db"

        [artifact_store]
        type = "local"
        path = "{{project}}/.flowy/artifacts"
        """)
    )


def test_a_plugins_missing_module_names_the_plugin_and_the_install(project: Path):
    write_stack(project, "nf", 'type = "local"', 'type = "needs-framework"')
    done = runner(project)("runs", "list", "--stack", "nf", code=1)
    text = message(done)
    assert f"{FIXTURE_DIST} 0.3" in text
    assert "metadata store 'needs-framework'" in text
    assert "'flowy_fixture_missing_framework'" in text
    assert f"pip install '{FIXTURE_DIST}[fast]'" in text


def test_a_component_rejecting_an_option_names_it(project: Path):
    write_stack(project, "picky", 'type = "picky"\nworkers = 99', 'type = "sqlite"')
    done = runner(project)("run", "pipeline.py", "--stack", "picky", code=1)
    text = message(done)
    assert "'picky'" in text and FIXTURE_DIST in text
    assert "workers" in text and "got 99" in text


def test_an_unexpected_error_in_a_plugin_names_the_plugin(project: Path):
    """What is left is a bug, but whose: the distribution whose code raised is named."""
    components = project.parent / "site" / "flowy_fixture_faults" / "components.py"
    components.write_text(
        components.read_text().replace(
            "import flowy_fixture_missing_framework  # noqa: F401 - not installed",
            "raise RuntimeError('lost track of the cursor')",
        )
    )
    write_stack(project, "nf", 'type = "local"', 'type = "needs-framework"')
    done = runner(project)("runs", "list", "--stack", "nf", code=1)
    text = " ".join(done.stderr.split())
    assert "Unexpected RuntimeError: lost track of the cursor" in text
    assert f"probably a bug in the plugin {FIXTURE_DIST} 0.3" in text


# -- a closed standard output -----------------------------------------------------


def closed_pipe_run(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run with stdout a pipe whose reader is already gone (as after `| head -1` exits)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWY_")}
    env.update(FLOWY_HOME=str(project.parent / "home"), FLOWY_LOAD_PLUGINS=FIRST_PARTY)
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [*FLOWY, *args], cwd=project, env=env, stdout=write_end,
            stderr=subprocess.PIPE, text=True, timeout=120, check=False,
        )  # fmt: skip
    finally:
        os.close(write_end)


@pytest.mark.parametrize(
    "args",
    [("runs", "list"), ("runs", "list", "--json"), ("stack", "export", "local"), ("--help",)],
)
def test_a_closed_stdout_ends_quietly_with_141(project: Path, args: tuple[str, ...]):
    runner(project)("run", "pipeline.py")
    done = closed_pipe_run(project, *args)
    assert done.stderr == ""
    assert done.returncode == 141  # 128 + SIGPIPE, as a shell shows for `yes | head -1`


def test_an_error_nobody_can_read_keeps_its_exit_code(project: Path):
    """stdout and stderr both closed: the usage error still exits 2, not 1 or a crash."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWY_")}
    env.update(FLOWY_HOME=str(project.parent / "home"), FLOWY_LOAD_PLUGINS=FIRST_PARTY)
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [*FLOWY, "no-such-command"], cwd=project, env=env, stdout=write_end,
            stderr=write_end, timeout=120, check=False,
        )  # fmt: skip
    finally:
        os.close(write_end)
    assert done.returncode == 2


LOUD = """
from flowy import Pipeline, step


@step
def answer() -> int:
    for i in range(3000):
        print(f"line {i:05d} " + "x" * 90)
    return 42


pipeline = Pipeline("loud", [answer])
"""


def test_head_reads_the_first_line_and_flowy_ends_quietly(project: Path):
    """A real `flowy logs RUN | head -1`, on more output than a pipe holds."""
    (project / "loud.py").write_text(LOUD)
    flowy = runner(project)
    flowy("run", "loud.py")
    run_id = json.loads(flowy("runs", "list", "--json").stdout)[0]["run_id"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWY_")}
    env.update(FLOWY_HOME=str(project.parent / "home"), FLOWY_LOAD_PLUGINS=FIRST_PARTY)
    shell = subprocess.run(
        ["bash", "-c", 'set -o pipefail; "$@" 2>err.txt | head -1; echo "rc=$?"', "--",
         *FLOWY, "logs", run_id],
        cwd=project, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert shell.stdout.splitlines() == ["── answer ──", "rc=141"]
    assert (project / "err.txt").read_text() == ""
