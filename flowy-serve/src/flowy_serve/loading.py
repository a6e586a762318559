"""From ``NAME[@stage|:version]`` to a model ready to serve: object, predictor, schema, facts.

The model is read through its materializer from the stack's stores, with the
checksum verified and pickle refused (``allow_pickle=False`` whatever the
project's setting: a server must never run code hidden in a payload). Its
predictor is chosen by type from the ``predictor`` registrations of the
``flowy_register_predictors`` hook; its input schema is what the model says
about itself (:meth:`Predictor.infer_schema`), completed with the dtypes of the
training frame found upstream in the lineage.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from flowy_serve.errors import InputError, ServeError
from flowy_serve.predictors import Predictor
from flowy_serve.schema import Schema, complete_schema

_SPEC = re.compile(r"^(?P<name>[^@:]+)(?:@(?P<stage>[^@:]+)|:(?P<version>\d+))?$")


@dataclass(frozen=True)
class ModelSpec:
    """Which version to serve: a fixed ``version``, or whatever holds ``stage``."""

    name: str
    stage: str | None = None
    version: int | None = None

    @property
    def follows_stage(self) -> bool:
        return self.version is None

    def __str__(self) -> str:
        return f"{self.name}:{self.version}" if self.version else f"{self.name}@{self.stage}"


def parse_spec(text: str) -> ModelSpec:
    """``NAME`` (production), ``NAME@stage`` or ``NAME:version``."""
    match = _SPEC.match(text.strip())
    if not match:
        raise ServeError(
            f"{text!r} is not a model reference: write NAME (its production version), "
            "NAME@STAGE (e.g. churn@staging) or NAME:VERSION (e.g. churn:3)"
        )
    version = match["version"]
    return ModelSpec(
        match["name"],
        stage=None if version else (match["stage"] or "production"),
        version=int(version) if version else None,
    )


#: A model whose calls average less than this (seconds) is called on the event loop.
FAST_CALL = 0.0005


@dataclass
class ServedModel:
    """A loaded version with its predictor and what ``GET /metadata`` says about it."""

    predictor: Predictor
    schema: Schema | None
    info: dict[str, Any]
    lock: threading.Lock | None = field(default=None)
    call_seconds: float = 1.0
    """A moving average of the model's call time (pessimistic until measured)."""

    @property
    def fast(self) -> bool:
        return self.call_seconds < FAST_CALL

    @property
    def version(self) -> int:
        return int(self.info["version"])

    def answer(self, inputs: Any, method: str) -> Any:
        """:meth:`call`, with the model's refusal of the inputs as a 422 that quotes it."""
        try:
            return self.call(inputs, method)
        except (ValueError, TypeError, KeyError) as exc:
            raise InputError(
                f"the model refused these inputs: {type(exc).__name__}: {exc}"
            ) from exc

    def call(self, inputs: Any, method: str) -> Any:
        started = time.perf_counter()
        if self.lock is None:
            result = self.predictor.predict(inputs, method)
        else:
            with self.lock:
                result = self.predictor.predict(inputs, method)
        took = time.perf_counter() - started  # a moving average, for FAST_CALL
        first = self.call_seconds == 1.0
        self.call_seconds = took if first else 0.9 * self.call_seconds + 0.1 * took
        return result


def choose_predictor(model: Any, plugins: Any = None) -> tuple[str, type[Predictor]]:
    """The registered predictor whose ``types`` is nearest in the model's MRO."""
    if plugins is None:
        from flowy.kernel.plugins import create_plugin_manager

        plugins = create_plugin_manager()
    mro = [f"{k.__module__}.{k.__qualname__}" for k in type(model).__mro__]
    best: tuple[int, Any] | None = None
    registrations = plugins.registry.all("predictor")
    for reg in registrations:
        for type_name in reg.info.get("types", ()):
            if type_name in mro:
                rank = mro.index(type_name)
                if best is None or rank < best[0]:
                    best = (rank, reg)
    if best is None:
        known = ", ".join(f"{r.name} ({', '.join(r.info.get('types', ()))})" for r in registrations)
        raise ServeError(
            f"No predictor knows how to call a {mro[0]}. Installed predictors: {known or 'none'}. "
            "A plugin adds one with the flowy_register_predictors hook (docs/serving.md)."
        )
    reg = best[1]
    cls: type[Predictor] = reg.load()
    return reg.name, cls


def build(
    model: Any, info: dict[str, Any], upstream_dtypes: list[dict[str, str]], plugins: Any = None
) -> ServedModel:
    """Wrap a loaded model: predictor, schema, facts for /metadata.

    ``info["schema"]``, when given (a packaged model keeps the one found when it was
    packaged), is used as it is; otherwise the model and its lineage say.
    """
    name, cls = choose_predictor(model, plugins)
    predictor = cls(model)
    schema = info.get("schema") or complete_schema(predictor.infer_schema(), upstream_dtypes)
    info = {
        **info,
        "predictor": name,
        "methods": predictor.methods,
        "schema": schema,
        "framework": {
            "model_class": f"{type(model).__module__}.{type(model).__qualname__}",
            "versions": predictor.framework_versions(),
        },
    }
    return ServedModel(
        predictor, schema, info, lock=None if predictor.thread_safe else threading.Lock()
    )


def _load_safely(client: Any, ref: Any, found: Any) -> Any:
    """The model object, never through pickle, whatever the project's ``allow_pickle``."""
    from flowy.kernel.errors import UnsafeArtifactError

    try:
        return client.load(ref, allow_pickle=False)
    except UnsafeArtifactError as exc:
        raise ServeError(
            f"Model {found.name} v{found.version} (artifact {ref.artifact_id[:12]}) cannot be "
            f"loaded safely, so it is not served. {exc} (A server never opts in: allow_pickle "
            "does not apply to serving.) Store the model in a safe format (scikit-learn: skops, "
            "PyTorch: safetensors, Keras: .keras; see docs/materializers.md), register that "
            "version and serve it."
        ) from exc


def load_from_store(spec: ModelSpec, stack: str | None = None, client: Any = None) -> ServedModel:
    """Load the version ``spec`` names from the stack's registry (pickle refused)."""
    from flowy.tracking import Client

    own = client is None
    client = client or Client(stack=stack)
    try:
        found = client.models.get(spec.name, version=spec.version, stage=spec.stage)
        ref = client.artifact(found.artifact_id)
        model = _load_safely(client, ref, found)
        details = client.models.details(spec.name, found.version)
        graph = client.lineage(found.artifact_id, downstream=False)
        frames = sorted(
            (graph.upstream[aid], i.artifact.metadata.get("dtypes"))
            for aid, i in graph.artifacts.items()
            if aid in graph.upstream and isinstance(i.artifact.metadata.get("dtypes"), dict)
        )
        info = {
            "name": spec.name,
            "version": found.version,
            "stage": found.stage,
            "serving": str(spec),
            "artifact_id": found.artifact_id,
            "materializer": ref.materializer,
            "training_run": found.run_id,
            "pipeline": details.get("pipeline"),
            "lineage": {
                "training_data": details.get("training_data", []),
                "ancestors": len(details.get("ancestors", [])),
                "metrics": details.get("metrics", {}),
            },
        }
        return build(model, info, [d for _, d in frames], client.plugins)
    finally:
        if own:
            client.close()
