"""The model registry from Python: register, promote, roll back, compare, load.

::

    from flowy.tracking.client import Client

    with Client() as client:
        v = client.models.register("churn", artifact_id)
        client.models.promote("churn", v.version, to="production")
        model = client.models.load("churn", stage="production")

or, on every run, ``@step(register_model="churn")`` (registered by the
``flowy_step_recorded`` hook of :mod:`flowy.tracking.plugin`). One line loads a
model by name: :func:`flowy.tracking.client.load_model`. Versions are numbered by
the store (1, 2, ... per name, unique and gapless under concurrent writers);
each links to the run that made it, its training data (through lineage) and
that run's metrics. Every stage change is kept as history with its time and
user (``FLOWY_USER``, else ``USER``/``LOGNAME``, else the login name).

Names are validated here (with :mod:`flowy.kernel.names`), before they reach the store: model
names are
``[A-Za-z0-9][A-Za-z0-9._-]*`` (up to 128 characters, no ``..``), stages
lower-case words. The registry never turns a name into a path, but a name
that could be one (``../x``, ``/etc``, ``a%2F..``) is refused anyway, so no
later feature (an export, a URL) can be tricked by one.
"""

from __future__ import annotations

import builtins
import getpass
import os
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from flowy.kernel import names
from flowy.kernel.catalog import (
    ARCHIVED,
    NO_STAGE,
    PRODUCTION,
    STAGING,
    ArtifactInfo,
    Catalog,
    ModelSummary,
    ModelVersion,
    StageChange,
)
from flowy.kernel.errors import FlowyError, ModelNotFoundError

if TYPE_CHECKING:
    from flowy.kernel.contracts import MetadataStore
    from flowy.kernel.records import MetricRecord, RunRecord, StepRunRecord

#: Stages every registry knows; any other lower-case word is a user-defined stage.
STAGES = (STAGING, PRODUCTION, ARCHIVED, NO_STAGE)


def validate_model_name(name: str) -> str:
    """``name`` if it is a safe model name; a FlowyError saying what is allowed otherwise."""
    return names.check(names.MODEL, name)


def validate_stage(stage: str) -> str:
    """A stage: ``staging``, ``production``, ``archived``, ``none`` or a lower-case word."""
    return names.check(names.STAGE, stage)


def current_user() -> str:
    """Who is making a change: FLOWY_USER, else USER or LOGNAME, else the login name."""
    for var in ("FLOWY_USER", "USER", "LOGNAME"):
        value = os.environ.get(var, "").strip()
        if value:
            return value[:255]
    try:
        return getpass.getuser()[:255]
    except Exception:  # noqa: BLE001 - no passwd entry (containers): still record something
        return "unknown"


def catalog_of(store: Any) -> Catalog:
    """The store as a :class:`Catalog`, or an error naming what the stack lacks."""
    if not isinstance(store, Catalog):
        raise FlowyError(
            f"The metadata store {type(store).__name__} keeps no lineage or model registry. "
            "Use a stack whose metadata store is `sqlite` or `sql` (flowy-store-sqlite)."
        )
    return store


class StackReader(Protocol):
    """What the registry reads of a stack: the part of :class:`~flowy.tracking.client.Client`
    it uses, named here so that this module does not import the client (which imports it)."""

    @property
    def store(self) -> MetadataStore: ...

    def run(self, run_id: str) -> RunRecord: ...

    def step(self, run_id: str, step: str) -> StepRunRecord: ...

    def metrics(self, run_id: str) -> builtins.list[tuple[str, MetricRecord]]: ...

    def artifact_info(self, artifact_id: str) -> ArtifactInfo: ...

    def load(self, artifact: str, *, allow_pickle: bool | None = None) -> Any: ...


class ModelRegistry:
    """The registry of one stack, reached through ``Client.models``."""

    def __init__(self, client: StackReader) -> None:
        self.client = client

    @property
    def catalog(self) -> Catalog:
        return catalog_of(self.client.store)

    def register(
        self, name: str, artifact_id: str, *, description: str = "", run_id: str | None = None
    ) -> ModelVersion:
        """Register an artifact (id or unique prefix) as the next version of ``name``.

        The artifact must hold a model: plain data (a dict, a list, a number, a
        data frame) or an asset declared as data or metrics is refused, because
        a registry version of it could never be served or compared as a model.
        """
        name = validate_model_name(name)
        check_registrable(self.client.artifact_info(artifact_id))
        return self.catalog.register_model_version(
            name,
            artifact_id,
            user=current_user(),
            description=description,
            run_id=run_id,
        )

    def list(self) -> builtins.list[ModelSummary]:
        return self.catalog.list_models()

    def versions(self, name: str) -> builtins.list[ModelVersion]:
        return self.catalog.model_versions(validate_model_name(name))

    def get(self, name: str, version: int | None = None, stage: str | None = None) -> ModelVersion:
        """A version by number, or the one in ``stage``, or the newest."""
        if stage is not None:
            validate_stage(stage)
        return self.catalog.get_model_version(validate_model_name(name), version, stage)

    def history(self, name: str) -> builtins.list[StageChange]:
        return self.catalog.model_history(validate_model_name(name))

    def promote(self, name: str, version: int, to: str) -> builtins.list[StageChange]:
        """Move a version to a stage; the previous holder is archived (production included)."""
        return self.catalog.set_model_stage(
            validate_model_name(name), version, validate_stage(to), user=current_user()
        )

    def rollback(self, name: str) -> builtins.list[StageChange]:
        """Production returns to the version that held it before the current one."""
        return self.catalog.rollback_model(validate_model_name(name), user=current_user())

    def load(self, name: str, *, stage: str | None = PRODUCTION, version: int | None = None) -> Any:
        """The model object of a version (default: the production one), checksum-verified."""
        found = self.get(name, version=version, stage=None if version is not None else stage)
        return self.client.load(found.artifact_id)

    # -- details -------------------------------------------------------------

    def details(self, name: str, version: int | None = None) -> dict[str, Any]:
        """A version with its run's parameters and metrics and its training data."""
        from flowy.kernel.records import to_dict

        found = self.get(name, version=version)
        run = self.client.run(found.run_id)
        graph = self.catalog.lineage(found.artifact_id, downstream=False)
        datasets = [i for i in graph.artifacts.values() if i.asset_type == "dataset"]
        if not datasets:  # no Dataset assets: the sources of the lineage are the data
            datasets = [
                i
                for aid, i in graph.artifacts.items()
                if aid in graph.upstream and not any(aid in n.outputs.values() for n in graph.steps)
            ]
        generated_from: dict[str, Any] = {}
        if not datasets:  # the first step made the data: its outputs, from params and code
            datasets, generated_from = self._generated_data(graph, dict(run.params))
        return {
            **to_dict(found),
            "pipeline": run.pipeline,
            "params": dict(run.params),
            **({"data_generated_from": generated_from} if generated_from else {}),
            "metrics": self.run_metrics(run.run_id),
            "training_data": sorted(
                (
                    {
                        "artifact_id": d.artifact_id,
                        "name": d.asset_name or d.artifact.name,
                        "step": d.step,
                        "asset_type": d.asset_type,
                    }
                    for d in datasets
                ),
                key=lambda d: (d["name"], d["artifact_id"]),
            ),
            "ancestors": sorted(graph.upstream),
        }

    def _generated_data(
        self, graph: Any, params: dict[str, Any]
    ) -> tuple[builtins.list[ArtifactInfo], dict[str, Any]]:
        """Training data a pipeline generated itself: the outputs of its first steps.

        When no step reads data from outside (the first step makes it), the data is
        fully described by the run's parameters and the code of the steps that
        made it, so those are returned with the artifacts.
        """
        first = [n for n in graph.steps if not n.inputs]
        data = [
            graph.artifacts[aid]
            for node in first
            for aid in node.outputs.values()
            if aid in graph.upstream and aid in graph.artifacts
        ]
        code: dict[str, str | None] = {}
        for node in first:
            try:
                code[node.step] = self.client.step(node.run_id, node.step).code_hash
            except FlowyError:
                code[node.step] = None
        return data, ({"params": params, "code": code} if data else {})

    def run_metrics(self, run_id: str) -> dict[str, float]:
        """The last value of each metric the run logged, plus its Metrics assets' values."""
        values: dict[str, float] = {}
        for _step, metric in self.client.metrics(run_id):
            values[metric.name] = metric.value
        for _use, info in self.catalog.run_artifacts(run_id):
            if info.asset_type == "metrics" and _use.direction == "produced":
                asset = info.artifact.metadata.get("flowy_asset", {})
                for key, value in (asset.get("fields", {}).get("values") or {}).items():
                    values.setdefault(key, value)
        return dict(sorted(values.items()))

    def compare(self, name: str, v1: int, v2: int) -> dict[str, Any]:
        """Metrics (with deltas ``v2 - v1``), parameters and lineage of two versions."""
        a, b = self.details(name, v1), self.details(name, v2)
        metrics = {
            key: {
                "a": a["metrics"].get(key),
                "b": b["metrics"].get(key),
                "delta": None
                if key not in a["metrics"] or key not in b["metrics"]
                else b["metrics"][key] - a["metrics"][key],
            }
            for key in sorted({*a["metrics"], *b["metrics"]})
        }
        params = {
            key: {"a": a["params"].get(key), "b": b["params"].get(key)}
            for key in sorted({*a["params"], *b["params"]})
        }
        data_a = {d["artifact_id"] for d in a["training_data"]}
        data_b = {d["artifact_id"] for d in b["training_data"]}
        return {
            "name": name,
            "a": {k: a[k] for k in ("version", "run_id", "artifact_id", "stage")},
            "b": {k: b[k] for k in ("version", "run_id", "artifact_id", "stage")},
            "metrics": metrics,
            "params": params,
            "params_changed": sorted(k for k, v in params.items() if v["a"] != v["b"]),
            "training_data": {
                "same": data_a == data_b,
                "only_a": sorted(data_a - data_b),
                "only_b": sorted(data_b - data_a),
                "a": a["training_data"],
                "b": b["training_data"],
            },
        }


#: Fully qualified type names that hold data, not a model: registering one is refused.
DATA_TYPES = frozenset({
    "builtins.dict", "builtins.list", "builtins.tuple", "builtins.set", "builtins.frozenset",
    "builtins.str", "builtins.bytes", "builtins.int", "builtins.float", "builtins.bool",
    "builtins.complex", "builtins.NoneType", "pandas.core.frame.DataFrame",
    "pandas.core.series.Series", "polars.dataframe.frame.DataFrame",
})  # fmt: skip

#: Asset types (``flowy.tracking.assets``) that declare an output as something other than a model.
DATA_ASSETS = frozenset({"dataset", "metrics", "featureset", "report"})


def check_registrable(info: ArtifactInfo) -> None:
    """Refuse an artifact that holds data rather than a model, saying what can be registered."""
    type_name = info.artifact.type_name
    if info.asset_type == "model":
        return
    if info.asset_type in DATA_ASSETS or type_name in DATA_TYPES:
        what = f"a {info.asset_type} asset" if info.asset_type in DATA_ASSETS else "plain data"
        raise FlowyError(
            f"Artifact {info.artifact_id[:12]} ({info.artifact.name!r} of step {info.step!r}) "
            f"is a {type_name}, {what}, not a model: it cannot be registered. Register an "
            "artifact that holds a model (an object with its own class, such as a scikit-learn "
            "estimator or a torch module, or an output declared as flowy.tracking.assets.Model); "
            "`flowy artifacts list --run RUN` shows each artifact's type."
        )


def register_step_outputs(store: Any, targets: Mapping[str, str], record: StepRunRecord) -> None:
    """Register a completed (or cached) step's outputs as versions of the models named.

    Called by flowy-core's ``flowy_step_recorded`` implementation
    (:mod:`flowy.tracking.plugin`) once the step's record is committed. An artifact
    already registered under the same name (a cached step re-using it, or the hook
    called twice) does not get a second version.
    """
    if not targets:
        return
    if not isinstance(store, Catalog):
        warnings.warn(
            f"Step {record.step!r} asks to register a model, but the metadata store "
            f"{type(store).__name__} has no model registry; nothing was registered.",
            RuntimeWarning,
            stacklevel=3,
        )
        return
    for output, name in targets.items():
        artifact_id = record.outputs.get(output)
        if artifact_id is None:
            continue
        try:
            known = {v.artifact_id for v in store.model_versions(name)}
        except ModelNotFoundError:
            known = set()
        if artifact_id not in known:
            store.register_model_version(
                name, artifact_id, user=current_user(), run_id=record.run_id
            )
