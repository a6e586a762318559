"""Shared fixtures for cross-package tests: an isolated project and plugin manager, and a
runner of the real ``flowy`` command in a subprocess."""

from __future__ import annotations

import importlib
import importlib.util
import os
import select
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import pytest
from flowy.kernel.plugins import FlowyPlugins, create_plugin_manager

FIRST_PARTY = [
    ("flowy-executor-local", "flowy_executor_local.plugin"),
    ("flowy-store-sqlite", "flowy_store_sqlite.plugin"),
    ("flowy-materializers", "flowy_materializers.plugin"),
]

_FLOWY_SCRIPT = Path(sys.executable).with_name("flowy")
#: The ``flowy`` command: this environment's console script, else the module.
FLOWY = [str(_FLOWY_SCRIPT)] if _FLOWY_SCRIPT.exists() else [sys.executable, "-m", "flowy_cli.main"]

Flowy = Callable[..., subprocess.CompletedProcess[str]]


def _flowy_env(home: Path, plugins: Iterable[str] = (), **extra: str) -> dict[str, str]:
    """This process's environment without its FLOWY_ settings, with its own FLOWY_HOME and
    exactly the first-party plugins plus ``plugins`` loaded (other installed distributions
    must not change what a test sees); ``extra`` is added last."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWY_")}
    loaded = [name for name, _ in FIRST_PARTY] + list(plugins)
    env.update(FLOWY_HOME=str(home), FLOWY_LOAD_PLUGINS=",".join(loaded), **extra)
    return env


def _flowy_runner(cwd: Path, env: Mapping[str, str], timeout: float = 120) -> Flowy:
    def flowy(
        *args: str, code: int | None = 0, **env_update: str
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [*FLOWY, *args], cwd=cwd, env={**env, **env_update}, capture_output=True,
            text=True, timeout=timeout, check=False,
        )  # fmt: skip
        if code is not None:
            assert done.returncode == code, (
                f"flowy {' '.join(args)} exited {done.returncode}, expected {code}\n"
                f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
            )
        return done

    return flowy


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh project folder; the user's FLOWY_HOME is a temp folder too."""
    root = tmp_path / "project"
    (root / ".flowy").mkdir(parents=True)
    monkeypatch.setenv("FLOWY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FLOWY_PROJECT", str(root))
    monkeypatch.delenv("FLOWY_STACK", raising=False)
    monkeypatch.chdir(root)
    return root


@pytest.fixture
def plugins() -> FlowyPlugins:
    """The first-party plugins, registered explicitly (nothing autoloaded)."""
    return create_plugin_manager(
        entrypoints=False,
        plugins=[(name, importlib.import_module(module)) for name, module in FIRST_PARTY],
    )


@pytest.fixture
def all_plugins() -> FlowyPlugins:
    """The first-party plugins and flowy-executor-dask: every executor a test compares."""
    return create_plugin_manager(
        entrypoints=False,
        plugins=[
            (name, importlib.import_module(module))
            for name, module in [
                *FIRST_PARTY,
                ("flowy-executor-dask", "flowy_executor_dask.plugin"),
            ]
        ],
    )


@pytest.fixture
def write_module(tmp_path: Path):
    """Write Python source to a uniquely named module file and import it."""
    counter = {"n": 0}

    def write(source: str, name: str | None = None):
        counter["n"] += 1
        name = name or f"user_pipeline_{counter['n']}"
        path = tmp_path / f"{name}.py"
        path.write_text(textwrap.dedent(source))
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        module.__flowy_path__ = str(path)  # type: ignore[attr-defined]
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module

    return write


def _in_terminal(
    args: list[str], cwd: Path, env: Mapping[str, str], columns: int = 200
) -> tuple[int, str]:
    """Run ``args`` with a pseudo-terminal ``columns`` wide as stdin, stdout and stderr; its
    exit code and all it wrote, escape codes included.

    This is how `flowy run` shows live progress (rich colours, a spinner) and how tables
    fit the width: the command sees a terminal because it has one.
    """
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    proc = subprocess.Popen(
        args, cwd=cwd, env={**env, "TERM": "xterm-256color"},
        stdin=slave, stdout=slave, stderr=slave, close_fds=True,
    )  # fmt: skip
    os.close(slave)
    chunks: list[bytes] = []
    try:
        exited = False
        while True:
            # Once it has exited, what it wrote is all buffered: drain without waiting.
            ready, _, _ = select.select([master], [], [], 0 if exited else 0.2)
            if not ready:
                if exited:
                    break
                exited = proc.poll() is not None
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every writer closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        code = proc.wait(timeout=120)
    finally:
        os.close(master)
    return code, b"".join(chunks).decode("utf-8", "replace")


@pytest.fixture(scope="session")
def in_terminal() -> Callable[..., tuple[int, str]]:
    """``in_terminal(args, cwd, env, columns=200)`` -> ``(exit code, output)``: ``args`` run
    on a pseudo-terminal, as a person at a terminal runs them."""
    return _in_terminal


@pytest.fixture(scope="session")
def flowy_env() -> Callable[..., dict[str, str]]:
    """``flowy_env(home, plugins=(), **extra)``: the environment of a ``flowy`` subprocess."""
    return _flowy_env


@pytest.fixture(scope="session")
def flowy_runner() -> Callable[..., Flowy]:
    """``flowy_runner(cwd, env, timeout=120)`` -> ``flowy(*args, code=0, **env_update)``: runs
    the real ``flowy`` command in ``cwd`` and checks its exit code (``code=None``: any),
    returning what it printed."""
    return _flowy_runner


@pytest.fixture(scope="session")
def flowy_command() -> list[str]:
    """The argv that starts this environment's ``flowy`` command (for tests that drive the
    process themselves, e.g. reading its output as it is written)."""
    return list(FLOWY)
