"""Where Flowy keeps its files, and its settings (validated with pydantic).

* The **project** is the nearest folder upward from the current directory that
  holds a ``.flowy/`` folder (or the current directory when none does;
  ``FLOWY_PROJECT`` overrides). ``flowy run FILE`` looks upward from the file
  first (:func:`project_for_file`); commands that only read refuse a folder
  with no project instead of creating a store there (:func:`require_project`).
  Its ``.flowy/`` holds ``config.toml``, ``stacks/``, and the local stack's
  metadata and artifacts.
* The **user** folder is ``FLOWY_HOME`` (default ``~/.flowy``): a
  ``config.toml`` with user-level defaults and ``stacks/``.

Settings come from the user file, then the project file, then ``FLOWY_*``
environment variables, each overriding the one before. A bad value is a
:class:`~flowy.kernel.errors.ConfigError` naming the file (or variable) and field.
"""

from __future__ import annotations

import functools
import os
import tomllib
from pathlib import Path
from typing import Any

from flowy.kernel.errors import ConfigError

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
    "ui_url": (
        "url | None",
        "The web UI's address (http://host:port): alerts link to the runs they are about.",
    ),
}

#: Tables of the project file that are not settings: alert rules and notifiers, validated
#: by :mod:`flowy.alerts.rules` (and kept as they are when a setting is written).
SECTIONS = ("alerts", "notifiers")


def project_root(start: Path | None = None) -> Path:
    """The project folder: FLOWY_PROJECT, else nearest parent with .flowy/, else cwd."""
    return find_project(start) or (start or Path.cwd()).resolve()


def find_project(start: Path | None = None) -> Path | None:
    """FLOWY_PROJECT, else the nearest folder from ``start`` (default cwd) up with a .flowy/.

    None when there is none. The user folder (``~/.flowy``, FLOWY_HOME) is not a
    project marker: otherwise every folder under the home directory would be
    one project, and a read there would create a store in the user's home.
    """
    env = os.environ.get("FLOWY_PROJECT")
    if env:
        return Path(env).resolve()
    here = (start or Path.cwd()).resolve()
    home = user_home().resolve()
    for folder in (here, *here.parents):
        marker = folder / PROJECT_DIR
        if marker.is_dir() and marker.resolve() != home:
            return folder
    return None


def project_for_file(path: Path) -> Path:
    """The project a pipeline file belongs to: where its runs are recorded.

    FLOWY_PROJECT, else the nearest project above the file (so `flowy run
    myproj/pipeline.py` from the parent folder uses myproj's history), else
    the current folder's project, else the current folder (a first run makes
    the project there, as it always has).
    """
    return find_project(path.expanduser().resolve().parent) or project_root()


def existing_project_for_file(path: Path) -> Path:
    """:func:`project_for_file` for a command that only reads: never a folder with no project."""
    return find_project(path.expanduser().resolve().parent) or require_project()


def require_project(start: Path | None = None) -> Path:
    """The current project, or a :class:`ConfigError` saying there is none and how to make one.

    For commands that only read: they must never create a store in a folder
    that holds no project.
    """
    found = find_project(start)
    if found is None:
        here = (start or Path.cwd()).resolve()
        raise ConfigError(
            f"No Flowy project here: neither {here} nor a folder above it has a {PROJECT_DIR}/ "
            "folder, so there are no runs to read. Change to your project's folder, set "
            "FLOWY_PROJECT, or make a project: `flowy init` (a new project with an example "
            "pipeline) or `flowy run pipeline.py` (records the first run here)."
        )
    return found


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
        ui_url: str | None = Field(default=None, pattern=r"^https?://\S+$")

    return Settings


#: The most bytes a configuration or stack file may hold. Real ones are a few hundred
#: bytes; the limit keeps a stray 50 MB file from stalling every command that reads it.
MAX_TOML_BYTES = 1024 * 1024


def _read_regular_file(path: Path, limit: int) -> bytes:
    """The bytes of ``path``, refusing what is not a small regular file.

    A FIFO would block ``open()`` forever and a symlink to ``/dev/zero`` never
    ends, so the file is checked with ``stat`` before it is opened, opened
    non-blocking, checked again on the open descriptor, and read to ``limit``
    bytes at most.
    """
    import stat

    fix = "Fix, move or delete it."
    if not stat.S_ISREG(path.stat().st_mode):
        raise ConfigError(f"{path} is not a regular file (a FIFO, device or folder). {fix}")
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"{path} is not a regular file. {fix}")
        data = fh.read(limit + 1)
    if len(data) > limit or info.st_size > limit:
        size = max(info.st_size, len(data))
        raise ConfigError(
            f"{path} holds {size:,} bytes, more than the {limit:,} a Flowy configuration or "
            f"stack file may hold. {fix}"
        )
    return data


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file; anything wrong with it is a ConfigError naming the file.

    A missing file is empty. Syntax errors, invalid UTF-8, an integer longer
    than Python converts, brackets nested past the recursion limit, a file
    over :data:`MAX_TOML_BYTES` and a file that is not a regular file are all
    refused with the reason, so a hostile file breaks only what reads it.
    """
    try:
        data = _read_regular_file(path, MAX_TOML_BYTES)
    except FileNotFoundError as exc:
        if path.is_symlink():
            raise ConfigError(f"{path} is a symlink to a missing file. Fix or delete it.") from exc
        return {}
    except OSError as exc:
        raise ConfigError(
            f"{path} cannot be read: {exc.strerror or exc}. Fix its permissions or delete it."
        ) from exc
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path} is not valid UTF-8 (byte {exc.start}), so it is not TOML. "
            "Fix or delete the file."
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}. Fix or delete the file.") from exc
    except RecursionError as exc:
        raise ConfigError(
            f"{path} nests arrays or tables too deeply to be read. Fix or delete the file."
        ) from exc
    except ValueError as exc:  # e.g. an integer longer than sys.get_int_max_str_digits()
        raise ConfigError(
            f"{path} holds a value that cannot be read: {exc}. Fix or delete the file."
        ) from exc


def _validate(data: dict[str, Any], source: str) -> dict[str, Any]:
    from pydantic import ValidationError

    data = {k: v for k, v in data.items() if k not in SECTIONS}
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
    "ui_url": None,
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
    check_setting_value(key, value)  # a bad value is the command's fault, not the file's
    path = config_path(scope, project)
    data = read_toml(path)
    data[key] = value
    validated = _validate(data, str(path))
    sections = {k: data[k] for k in SECTIONS if k in data}
    write_toml_atomic(path, {**{k: v for k, v in validated.items() if v is not None}, **sections})
    return path


#: What each setting accepts, in words, for the error of a bad value.
ALLOWED_VALUES = {
    "bool": "true or false (also 1/0, yes/no, on/off)",
    "int | None": "a whole number, 0 or more",
    "float | None": "a number, 0 or more",
    "str | None": "a stack name (see `flowy stack list`)",
    "url | None": "an http:// or https:// address",
}


def check_setting_value(key: str, value: Any) -> None:
    """Refuse a bad value for one setting, naming the setting, the value and what is allowed."""
    from pydantic import ValidationError

    try:
        _settings_model()(**{key: value})
    except ValidationError as exc:
        reason = "; ".join(err["msg"] for err in exc.errors())
        allowed = ALLOWED_VALUES.get(SETTINGS[key][0], SETTINGS[key][0])
        raise ConfigError(
            f"Setting {key!r} cannot be {value!r} ({reason}). Allowed values: {allowed}. "
            f"For example: `flowy config set {key} {_example(key)}`."
        ) from exc


def _example(key: str) -> str:
    kind = SETTINGS[key][0]
    examples = {"bool": "true", "int | None": "10", "float | None": "30"}
    return {**examples, "url | None": "http://localhost:8080"}.get(kind, "local")


def write_toml_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write TOML to a temporary file and rename it, so a crash never half-writes config."""
    import tomli_w

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(tomli_w.dumps(data).encode())
    os.replace(tmp, path)
