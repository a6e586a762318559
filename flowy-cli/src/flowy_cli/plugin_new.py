"""``flowy plugin new NAME --kind KIND [DIR]``: a ready plugin package for one capability.

The package is what a plugin author would otherwise assemble from the docs:
src layout, a pyproject.toml with the ``flowy`` entry point and the flowy-core
range it supports, a plugin module registering a dotted path, an
implementation skeleton whose methods raise ``NotImplementedError`` saying
what to implement, tests that subclass the matching contract suite from
``flowy.testing`` (so they fail, honestly, until the skeleton is filled in,
and pass once it behaves like Flowy's own implementations), a tox.ini testing
supported Python and flowy-core versions, and a README.

The files are ``string.Template`` files under ``templates/plugin/`` (``.tmpl``,
so linters leave them alone); this module only fills in names.
"""

from __future__ import annotations

import re
import string
from importlib import resources
from pathlib import Path

import attrs
import click

#: Supported flowy-core versions, as written into a new plugin's dependencies.
CORE_REQUIREMENT = ">=0.1,<0.2"
CORE_MIN = "0.1.0"


@attrs.frozen
class Kind:
    """What differs between capabilities: the hook, the module, the class and its suite."""

    kind: str  # the stack component kind
    hook: str
    module: str
    suffix: str
    contract: str
    label: str


KINDS: dict[str, Kind] = {
    "executor": Kind(
        "executor", "flowy_register_executors", "executor", "Executor", "ExecutorContract",
        "executor",
    ),
    "artifact-store": Kind(
        "artifact_store", "flowy_register_artifact_stores", "store", "ArtifactStore",
        "ArtifactStoreContract", "artifact store",
    ),
    "metadata-store": Kind(
        "metadata_store", "flowy_register_metadata_stores", "metadata", "MetadataStore",
        "MetadataStoreContract", "metadata store",
    ),
    "materializer": Kind(
        "materializer", "flowy_register_materializers", "materializer", "Materializer",
        "MaterializerContract", "materializer",
    ),
    "cache": Kind(
        "cache", "flowy_register_cache_strategies", "strategy", "CacheStrategy",
        "CacheStrategyContract", "cache strategy",
    ),
    "tracker": Kind(
        "tracker", "flowy_register_trackers", "tracker", "Tracker", "TrackerContract", "tracker",
    ),
}  # fmt: skip


def _usage(kind: Kind, name: str) -> str:
    """How a user puts the new component to work, for the README."""
    if kind.kind == "materializer":
        return "# steps returning one of its types are stored with it automatically"
    if kind.kind == "cache":
        return f'# in a pipeline: @step(cache="code_hash,{name}")'
    flag = kind.kind.replace("_", "-")
    return f"flowy stack copy local mine && flowy stack update mine --{flag} {name}"


def _registration(kind: Kind, package: str, cls: str, name: str, description: str) -> str:
    """The arguments of the ``register(...)`` call, one per line."""
    lines = [f'"{name}",', f'"{package}.{kind.module}:{cls}",']
    if kind.kind == "materializer":
        lines += ['types=["decimal.Decimal"],  # qualified names of the types it handles']
        lines += ['extension=".txt",  # the same as the class\'s `extension`']
        lines += ["safe=True,  # False only for formats that can run code on load (pickle)"]
        lines += ['requires=[],  # import names of the modules it needs, e.g. ["polars"]']
    lines.append(f'description="{description}",')
    return "\n".join(" " * 8 + line for line in lines)


def plugin_files(dist: str, kind_name: str) -> dict[str, str]:
    """Relative path -> content of a new plugin package for ``kind_name``."""
    kind = KINDS[kind_name]
    package = dist.replace("-", "_")
    name = dist.removeprefix("flowy-")
    cls = "".join(part.capitalize() for part in re.split(r"[-_]", name)) + kind.suffix
    description = f"A Flowy {kind.label}: {name}."
    values = {
        "dist": dist,
        "package": package,
        "name": name,
        "cls": cls,
        "module": kind.module,
        "hook": kind.hook,
        "contract": kind.contract,
        "kind_label": kind.label,
        "kind_label_plural": kind.label + "s",
        "description": description,
        "core_requirement": CORE_REQUIREMENT,
        "core_min": CORE_MIN,
        "usage": _usage(kind, name),
        "registration": _registration(kind, package, cls, name, description),
    }
    templates = resources.files("flowy_cli.templates").joinpath("plugin")

    def fill(*parts: str) -> str:
        text = templates.joinpath(*parts).read_text()
        return string.Template(text).substitute(values)

    return {
        "pyproject.toml": fill("pyproject.toml.tmpl"),
        "README.md": fill("README.md.tmpl"),
        "tox.ini": fill("tox.ini.tmpl"),
        f"src/{package}/__init__.py": fill("init.py.tmpl"),
        f"src/{package}/plugin.py": fill("plugin.py.tmpl"),
        f"src/{package}/{kind.module}.py": fill("kinds", kind_name, "impl.py.tmpl"),
        "tests/test_contract.py": fill("kinds", kind_name, "test_contract.py.tmpl"),
    }


def write_plugin(dist: str, kind_name: str, directory: Path) -> list[Path]:
    """Write the package into ``directory`` (which must be absent or empty)."""
    from flowy.kernel import names
    from flowy.kernel.errors import ConfigError

    names.check(names.PLUGIN_DISTRIBUTION, dist, error=ConfigError)
    if directory.exists() and any(directory.iterdir()):
        raise ConfigError(f"{directory} already exists and is not empty; choose another folder.")
    written = []
    for relative, content in plugin_files(dist, kind_name).items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        written.append(path)
    return written


@click.group()
def plugin() -> None:
    """Create plugins (see `flowy plugins` to list the installed ones)."""


@plugin.command("new")
@click.argument("name")
@click.option(
    "--kind", "kind_name", required=True, type=click.Choice(sorted(KINDS)),
    help="The capability the plugin provides.",
)  # fmt: skip
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
def new(name: str, kind_name: str, directory: Path | None) -> None:
    """Write a ready plugin package NAME (e.g. flowy-gcs) into DIRECTORY (default: ./NAME)."""
    from rich.markup import escape

    from flowy_cli.output import console

    directory = directory or Path(name)
    written = write_plugin(name, kind_name, directory)
    out = console()
    out.print(f"Created plugin [bold]{escape(name)}[/] ({KINDS[kind_name].label}) in {directory}:")
    for path in written:
        out.print(f"  {escape(str(path.relative_to(directory)))}")
    out.print(
        "Next: fill in the NotImplementedError methods, then\n"
        f"  cd {escape(str(directory))} && pip install -e {escape(repr('.[test]'))} && pytest"
    )
