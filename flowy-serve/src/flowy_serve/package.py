"""``flowy model package``: a container build context that serves one model version alone.

The folder holds everything ``flowy model serve NAME --from-dir DIR`` needs, and
nothing of the project's store:

* ``model/``: the artifact's bytes, copied and checksum-verified, and the
  project's module that defines a PyTorch module's class (recorded by the torch
  materializer as ``module:Class``), so the model is rebuilt as it was trained;
* ``flowy-model.json``: the artifact record (materializer, checksum, metadata) and
  the facts ``GET /metadata`` shows (version, training run, lineage, schema);
* ``requirements.txt``: what serving needs (flowy-serve, the materializers, the
  model's framework) and all their dependencies, pinned to the versions the
  training run recorded in its environment (the packaging machine's where the
  run did not record one);
* ``wheels/``: Flowy's own distributions built from this machine's installs
  when they were not installed from an index;
* ``Dockerfile``: installs the requirements and runs the server on port 8000,
  requiring a token (``FLOWY_SERVE_TOKEN``) since it listens on every address.

The folder is written beside its final name and renamed into place when complete.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from flowy_serve.errors import ServeError
from flowy_serve.loading import ServedModel, build, load_from_store, parse_spec

META = "flowy-model.json"
#: What a served model always needs besides its framework.
SERVING = ("flowy-serve", "flowy-materializers", "flowy-cli", "flowy-core")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(roots: list[str]) -> dict[str, str]:
    """Every installed distribution ``roots`` need (markers evaluated, extras skipped)."""
    from importlib import metadata

    from packaging.requirements import Requirement

    found: dict[str, str] = {}
    todo = [_canonical(r) for r in roots]
    while todo:
        name = todo.pop()
        if name in found:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        found[name] = dist.version
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            todo.append(_canonical(req.name))
    return found


def _editable_source(name: str) -> Path | None:
    """The source folder of a distribution installed editable or from a folder."""
    from importlib import metadata

    text = metadata.distribution(name).read_text("direct_url.json")
    if not text:
        return None
    url = json.loads(text).get("url", "")
    return Path(url.removeprefix("file://")) if url.startswith("file://") else None


def requirements(
    served: ServedModel, environment: dict[str, Any], wheels: Path, say: Any = None
) -> str:
    """Pinned requirements; Flowy's own unpublished distributions built into ``wheels``."""
    recorded = {_canonical(k): v for k, v in (environment.get("installed") or {}).items()}
    needed = closure([*SERVING, *served.predictor.frameworks])
    lines = [
        f"# Serving {served.info['name']} v{served.info['version']}: pinned to the versions "
        f"training run {served.info['training_run'][:12]} recorded",
        f"# (Python {environment.get('python', '?')}); install with",
        "#   pip install --find-links wheels -r requirements.txt",
    ]
    for name in sorted(needed):
        version = recorded.get(name, needed[name])
        source = _editable_source(name) if name.startswith("flowy-") else None
        if source is not None:
            if say is not None:
                say(f"Building a wheel of {name} from {source}...")
            _build_wheel(source, wheels)
            version = needed[name]  # the wheel built from this machine's source
        lines.append(f"{name}=={version}")
    return "\n".join(lines) + "\n"


def _build_wheel(source: Path, wheels: Path) -> None:
    """``pip wheel`` of one source folder (its build backend from here when installed)."""
    import importlib.util

    wheels.mkdir(exist_ok=True)
    isolation = [] if importlib.util.find_spec("hatchling") is None else ["--no-build-isolation"]
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", *isolation,
         "-w", str(wheels), str(source)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise ServeError(f"Could not build a wheel of {source}: {done.stderr.strip()[-2000:]}")


def _model_code(ref: Any, project: Path, target: Path) -> list[str]:
    """Copy the project module a torch module's class lives in (``module:Class``)."""
    recorded = str(ref.metadata.get("module_class") or "")
    module = recorded.partition(":")[0]
    if not module or not module.replace(".", "").isidentifier():
        return []
    base = project.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            destination = target / candidate.relative_to(project)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(candidate, destination)
            return [str(candidate.relative_to(project))]
    return []  # an installed package: it must be in the requirements


DOCKERFILE = """\
# Built by `flowy model package`: serves {name} v{version} on port 8000.
#   docker build -t {image} .
#   docker run -p 8000:8000 -e FLOWY_SERVE_TOKEN=<a long random string> {image}
FROM python:{python}-slim
WORKDIR /model
COPY requirements.txt ./
COPY wheels/ ./wheels/
RUN pip install --no-cache-dir --find-links ./wheels -r requirements.txt
COPY . .
ENV FLOWY_PROJECT=/model FLOWY_HOME=/tmp/flowy-home
EXPOSE 8000
CMD ["flowy", "model", "serve", "{name}", "--from-dir", "/model", "--host", "0.0.0.0", \\
     "--port", "8000", "--token", "{{env:FLOWY_SERVE_TOKEN}}"]
"""


def package(model: str, out: Path, *, stack: str | None = None, say: Any = None) -> dict[str, Any]:
    """Write the build context for ``model`` into ``out`` (which must not exist yet)."""
    from flowy.artifacts import HashingReader
    from flowy.kernel.records import to_dict
    from flowy.tracking import Client

    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ServeError(f"{out} exists and is not empty; give a new folder to --out")
    spec = parse_spec(model)
    partial = out.with_name(f".{out.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    (partial / "model").mkdir(parents=True)
    try:
        with Client(stack=stack) as client:
            served = load_from_store(spec, client=client)  # proves it loads safely
            ref = client.artifact(served.info["artifact_id"])
            environment = client.run(served.info["training_run"]).environment
            filename = Path(ref.uri).name
            with client.artifact_store.open_read(ref.uri) as raw, HashingReader(
                raw, ref.checksum, ref.uri
            ) as reader, (partial / "model" / filename).open("wb") as copy:  # fmt: skip
                while chunk := reader.read(1 << 20):
                    copy.write(chunk)
                reader.verify()
            code = _model_code(ref, client.project, partial)
        record = {key: value for key, value in to_dict(ref).items() if key != "uri"}
        description = {"format": 1, "file": f"model/{filename}", "artifact": record,
                       "info": served.info, "code": code}  # fmt: skip
        (partial / META).write_text(json.dumps(description, indent=2, default=str) + "\n")
        (partial / "requirements.txt").write_text(
            requirements(served, environment, partial / "wheels", say)
        )
        (partial / "wheels").mkdir(exist_ok=True)
        python = ".".join(str(environment.get("python") or sys.version.split()[0]).split(".")[:2])
        name = served.info["name"]
        image = f"{_canonical(name)}-v{served.version}"
        (partial / "Dockerfile").write_text(
            DOCKERFILE.format(name=name, version=served.version, image=image, python=python)
        )
        (partial / ".dockerignore").write_text("**/__pycache__\n")
        if out.exists():
            out.rmdir()
        os.replace(partial, out)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return {"name": name, "version": served.version, "out": str(out), "code": code}


class _FolderStore:
    """Just enough of an artifact store for :func:`flowy.artifacts.read_artifact`: local files."""

    @staticmethod
    def local_path(uri: str) -> str:
        return uri

    @staticmethod
    def open_read(uri: str) -> Any:
        return Path(uri).open("rb")


def load_from_directory(directory: str | Path, expected_name: str | None = None) -> ServedModel:
    """Load a folder written by :func:`package`: verified, pickle refused, no store."""
    from flowy.artifacts import MaterializerRegistry, read_artifact
    from flowy.kernel.errors import UnsafeArtifactError
    from flowy.kernel.plugins import create_plugin_manager
    from flowy.kernel.records import ArtifactRef

    folder = Path(directory).resolve()
    try:
        description = json.loads((folder / META).read_text())
    except (OSError, ValueError) as exc:
        raise ServeError(
            f"{folder} is not a folder written by `flowy model package` ({META}: {exc})"
        ) from None
    info = description["info"]
    if expected_name is not None and parse_spec(expected_name).name != info["name"]:
        raise ServeError(
            f"{folder} holds model {info['name']!r}, not {expected_name!r}: serve it by its name"
        )
    os.environ["FLOWY_PROJECT"] = str(folder)  # a torch module's class is found in the folder
    ref = ArtifactRef(**{**description["artifact"], "uri": str(folder / description["file"])})
    plugins = create_plugin_manager()
    try:
        model = read_artifact(
            _FolderStore(),  # type: ignore[arg-type]
            ref,
            MaterializerRegistry(plugins.registry),
            allow_pickle=False,
        )
    except UnsafeArtifactError as exc:
        raise ServeError(
            f"{folder}: the model cannot be loaded safely, so it is not served. {exc}"
        ) from exc
    return build(model, {**info, "serving": f"{info['name']} from {folder}"}, [], plugins)
