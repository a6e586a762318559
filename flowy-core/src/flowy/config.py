"""Where Flowy keeps its files, and its settings (validated with pydantic).

* The **project** is the nearest folder upward from the current directory that
  holds a ``.flowy/`` folder (or the current directory when none does;
  ``FLOWY_PROJECT`` overrides). Its ``.flowy/`` holds ``config.toml``,
  ``stacks/``, and the local stack's metadata and artifacts.
* The **user** folder is ``FLOWY_HOME`` (default ``~/.flowy``): a
  ``config.toml`` with user-level defaults and ``stacks/``.

Settings come from the user file, then the project file, then ``FLOWY_*``
environment variables, each overriding the one before. A bad value is a
:class:`~flowy.errors.ConfigError` naming the file (or variable) and field.
"""

from __future__ import annotations

import functools
import os
import tomllib
from pathlib import Path
from typing import Any

from flowy.errors import ConfigError

PROJECT_DIR = ".flowy"
CONFIG_FILE = "config.toml"

#: Setting name -> (type name, description); the pydantic model is built from it lazily.
SETTINGS: dict[str, tuple[str, str]] = {
    "active_stack": (
        "str | None",
        "The stack runs use unless --stack or FLOWY_STACK says otherwise.",
    ),
    "allow_pickle": (
        "bool",
        "Allow the pickle materializer for outputs no safe materializer handles.",
    ),
    "progress": ("bool", "Show live step progress in `flowy run`."),
    "keep_last_runs": (
        "int | None",
        "`flowy gc` keeps this many newest runs of each pipeline (unset: keep all).",
    ),
    "keep_days": (
        "float | None",
        "`flowy gc` keeps runs started within this many days (unset: keep all).",
    ),
}


def project_root(start: Path | None = None) -> Path:
    """The project folder: FLOWY_PROJECT, else nearest parent with .flowy/, else cwd."""
    env = os.environ.get("FLOWY_PROJECT")
    if env:
        return Path(env).resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / PROJECT_DIR).is_dir():
            return folder
    return here


def user_home() -> Path:
    return Path(os.environ.get("FLOWY_HOME") or Path.home() / ".flowy").expanduser()


@functools.cache
def _settings_model() -> Any:
    from pydantic import BaseModel, ConfigDict, Field

    class Settings(BaseModel):
        model_config = ConfigDict(extra="forbid", validate_assignment=True)
        active_stack: str | None = None
        allow_pickle: bool = False
        progress: bool = True
        keep_last_runs: int | None = Field(default=None, ge=0)
        keep_days: float | None = Field(default=None, ge=0)

    return Settings


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file; a syntax error is a ConfigError naming the file and line."""
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}. Fix or delete the file.") from exc


def _validate(data: dict[str, Any], source: str) -> dict[str, Any]:
    from pydantic import ValidationError

    try:
        return dict(_settings_model()(**data).model_dump(exclude_unset=True))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(
            f"Invalid configuration in {source}: {problems}. Known settings: "
            f"{', '.join(SETTINGS)}. Fix it with `flowy config set` or edit the file."
        ) from exc


def config_path(scope: str, project: Path | None = None) -> Path:
    if scope == "user":
        return user_home() / CONFIG_FILE
    return (project or project_root()) / PROJECT_DIR / CONFIG_FILE


#: The defaults, equal to the pydantic model's (a test checks): when no file and no
#: FLOWY_* setting exists there is nothing to validate, so pydantic (about 100 ms of
#: imports and model building) stays out of `flowy stack list` and every other command.
DEFAULTS: dict[str, Any] = {
    "active_stack": None,
    "allow_pickle": False,
    "progress": True,
    "keep_last_runs": None,
    "keep_days": None,
}


def load_settings(project: Path | None = None) -> dict[str, Any]:
    """Effective settings: defaults < user file < project file < FLOWY_* variables.

    Only what the user wrote (a file, an environment variable) goes through pydantic.
    """
    merged: dict[str, Any] = dict(DEFAULTS)
    for scope in ("user", "project"):
        path = config_path(scope, project)
        if path.exists():
            merged.update(_validate(read_toml(path), str(path)))
    env = {
        key: os.environ[f"FLOWY_{key.upper()}"]
        for key in SETTINGS
        if f"FLOWY_{key.upper()}" in os.environ
    }
    if "FLOWY_STACK" in os.environ:
        env["active_stack"] = os.environ["FLOWY_STACK"]
    if env:
        merged.update(_validate(env, "environment variables FLOWY_*"))
    return merged


def set_setting(key: str, value: str, scope: str = "project", project: Path | None = None) -> Path:
    """Validate and write one setting to the project or user config file atomically."""

    if key not in SETTINGS:
        raise ConfigError(f"Unknown setting {key!r}. Known settings: {', '.join(SETTINGS)}.")
    path = config_path(scope, project)
    data = read_toml(path)
    data[key] = value
    validated = _validate(data, str(path))
    write_toml_atomic(path, {k: v for k, v in validated.items() if v is not None})
    return path


def write_toml_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write TOML to a temporary file and rename it, so a crash never half-writes config."""
    import tomli_w

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(tomli_w.dumps(data).encode())
    os.replace(tmp, path)
