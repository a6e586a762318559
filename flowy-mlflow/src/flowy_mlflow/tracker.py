"""``MlflowTracker``: Flowy's lifecycle hooks, mirrored into an MLflow tracking store.

The engine builds one tracker per run from the stack's ``tracker`` options
and registers it with the plugin manager for the length of the run, so these
methods are ordinary hook implementations: the hooks are the only way the
engine talks to a tracker. Flowy's metadata store is written by the engine
whatever happens here; an MLflow error reaches the user as a warning naming
this plugin, never as a failed run.

Mapping, one MLflow run per Flowy run:

* experiment: the ``experiment`` option, else the run's Flowy experiment;
* run name ``<pipeline>-<run id prefix>``; tags ``flowy.run_id``,
  ``flowy.pipeline``, ``flowy.experiment``, ``flowy.stack``, git commit and
  branch as MLflow's own ``mlflow.source.git.*`` tags, and
  ``flowy.step.<name>`` = the step's status (completed, failed, cached, ...);
* parameters: the run's, then each step's (those it takes, with defaults,
  and those it logs); a key a step has with another value becomes
  ``<step>.<key>``, since MLflow parameters are immutable;
* metrics: every value with its index as MLflow's ``step`` and its time, sent
  with ``log_batch`` after each step (batches of 1,000, MLflow's limit), not
  one request per value;
* artifacts: step outputs under ``<step>/outputs/`` and files from
  ``flowy.log_artifact`` under ``<step>/files/``, read from the run's artifact
  store and checked against their recorded checksum on the way;
* the Flowy run's end status as MLflow's FINISHED, FAILED or KILLED.

MLflow is imported when the first run starts, so resolving a stack (and
``flowy --help``) never pays its import time.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from flowy import hookimpl
from flowy.artifacts import Checksum
from flowy.artifacts import short_checksum as short
from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from flowy.kernel.records import ArtifactRef, CacheEntry, RunRecord, StepResult, StepTask

#: MLflow's limits per log_batch call and per value.
MAX_METRICS, MAX_PARAMS, MAX_TAGS = 1000, 100, 100
MAX_PARAM_VALUE, MAX_KEY = 6000, 250
_STATUS = {"completed": "FINISHED", "failed": "FAILED", "cancelled": "KILLED"}


class MlflowTrackerOptions(BaseModel):
    """Stack options of the ``mlflow`` tracker."""

    model_config = ConfigDict(extra="forbid")

    tracking_uri: str | None = None
    """MLflow tracking URI (``sqlite:///mlflow.db``, ``http://host:5000``); default MLflow's."""
    experiment: str | None = None
    """MLflow experiment name; default: the run's Flowy experiment."""
    artifacts: bool = True
    """Copy step outputs and logged files into MLflow's artifact store."""
    artifact_location: str | None = None
    """Where a newly created MLflow experiment keeps artifacts; default: an
    ``mlartifacts`` folder beside a ``sqlite:///`` tracking database (never the
    current directory), else MLflow's default."""


def _beside_database(tracking_uri: str | None) -> str | None:
    """``<db folder>/mlartifacts`` for a SQLite tracking store, so artifacts stay with it."""
    prefix = "sqlite:///"
    if not tracking_uri or not tracking_uri.startswith(prefix):
        return None
    from pathlib import Path

    return str(Path(tracking_uri[len(prefix) :]).resolve().parent / "mlartifacts")


class MlflowTracker:
    """One Flowy run -> one MLflow run (see the module docstring for the mapping)."""

    Options: ClassVar[Any] = MlflowTrackerOptions

    def __init__(
        self,
        tracking_uri: str | None = None,
        experiment: str | None = None,
        artifacts: bool = True,
        artifact_location: str | None = None,
    ) -> None:
        self.tracking_uri = tracking_uri
        self.experiment = experiment
        self.artifacts = artifacts
        self.artifact_location = artifact_location or _beside_database(tracking_uri)
        self.mlflow_run_id: str | None = None
        self._client: Any = None
        self._params: dict[str, str] = {}

    # -- lifecycle hooks ------------------------------------------------------

    @hookimpl
    def flowy_pipeline_started(self, run: RunRecord) -> None:
        from mlflow.tracking import MlflowClient

        self._client = MlflowClient(tracking_uri=self.tracking_uri)
        name = self.experiment or run.experiment or run.pipeline
        found = self._client.get_experiment_by_name(name)
        experiment_id = (
            found.experiment_id
            if found is not None
            else self._client.create_experiment(name, artifact_location=self.artifact_location)
        )
        tags = {
            "mlflow.runName": f"{run.pipeline}-{run.run_id[:8]}",
            "flowy.run_id": run.run_id,
            "flowy.pipeline": run.pipeline,
            "flowy.experiment": run.experiment or run.pipeline,
            "flowy.stack": str(run.stack.get("name", "")),
        }
        if run.git.get("commit"):
            tags["mlflow.source.git.commit"] = str(run.git["commit"])
        if run.git.get("branch"):
            tags["mlflow.source.git.branch"] = str(run.git["branch"])
        created = self._client.create_run(experiment_id, start_time=_ms(run.started_at), tags=tags)
        self.mlflow_run_id = created.info.run_id
        self._log_params(run.params)

    @hookimpl
    def flowy_step_finished(self, run: RunRecord, task: StepTask, result: StepResult) -> None:
        self._mirror_step(task, result)

    @hookimpl
    def flowy_step_failed(self, run: RunRecord, task: StepTask, result: StepResult) -> None:
        self._mirror_step(task, result)

    @hookimpl
    def flowy_step_cached(self, run: RunRecord, task: StepTask, entry: CacheEntry) -> None:
        self._log_params(task.params, prefix=f"{task.step}.")
        self._tags({f"flowy.step.{task.step}": "cached"})

    @hookimpl
    def flowy_step_skipped(self, run: RunRecord, step: str, reason: str) -> None:
        self._tags({f"flowy.step.{step}": "skipped"})

    @hookimpl
    def flowy_pipeline_finished(self, run: RunRecord, status: str) -> None:
        if self._client is None or self.mlflow_run_id is None:
            return
        end = _ms(run.finished_at) if run.finished_at else None
        self._client.set_terminated(self.mlflow_run_id, _STATUS.get(status, "FAILED"), end)
        self.mlflow_run_id = None

    def close(self) -> None:
        """End an MLflow run left open (the run ended without its finished hook)."""
        if self._client is not None and self.mlflow_run_id is not None:
            self._client.set_terminated(self.mlflow_run_id, "KILLED")
            self.mlflow_run_id = None

    # -- mirroring ------------------------------------------------------------

    def _mirror_step(self, task: StepTask, result: StepResult) -> None:
        if self._client is None or self.mlflow_run_id is None:
            return
        from mlflow.entities import Metric

        metrics = [
            Metric(_key(m.name), m.value, _ms(m.timestamp or result.finished_at), m.step or 0)
            for m in result.metrics
        ]
        for i in range(0, len(metrics), MAX_METRICS):
            self._client.log_batch(self.mlflow_run_id, metrics=metrics[i : i + MAX_METRICS])
        self._log_params({**task.params, **result.params_logged}, prefix=f"{task.step}.")
        self._tags({f"flowy.step.{task.step}": result.status})
        if self.artifacts:
            outputs = [(ref, "outputs") for ref in result.outputs.values()]
            files = [(ref, "files") for ref in result.artifacts_logged]
            self._log_artifacts(task, [*outputs, *files])

    def _log_params(self, params: dict[str, Any], prefix: str = "") -> None:
        from mlflow.entities import Param

        batch = []
        for key, value in params.items():
            text = value if isinstance(value, str) else json.dumps(value, default=str)
            text = text[:MAX_PARAM_VALUE]
            name = _key(key)
            if self._params.get(name, text) != text:
                name = _key(prefix + key)  # MLflow params are immutable
            if self._params.get(name) == text:
                continue
            self._params[name] = text
            batch.append(Param(name, text))
        for i in range(0, len(batch), MAX_PARAMS):
            self._client.log_batch(self.mlflow_run_id, params=batch[i : i + MAX_PARAMS])

    def _tags(self, tags: dict[str, str]) -> None:
        if self._client is None or self.mlflow_run_id is None:
            return
        from mlflow.entities import RunTag

        batch = [RunTag(_key(k), v) for k, v in tags.items()]
        self._client.log_batch(self.mlflow_run_id, tags=batch)

    def _log_artifacts(self, task: StepTask, refs: list[tuple[ArtifactRef, str]]) -> None:
        if not refs:
            return
        from flowy.run import runtime_from_task

        store = runtime_from_task(task).artifact_store
        with tempfile.TemporaryDirectory(prefix="flowy-mlflow-") as tmp:
            for ref, folder in refs:
                name = ref.name if folder == "files" else ref.name + _suffix(ref.uri)
                target = Path(tmp) / folder / name
                target.parent.mkdir(parents=True, exist_ok=True)
                checksum = Checksum(ref.checksum)
                try:
                    with store.open_read(ref.uri) as src, target.open("wb") as dst:
                        while chunk := src.read(1 << 20):
                            checksum.update(chunk)
                            dst.write(chunk)
                    actual = checksum.value()
                finally:
                    checksum.close()
                if actual != ref.checksum:
                    raise ValueError(
                        f"artifact {ref.uri} no longer matches its recorded checksum "
                        f"({short(actual)}... instead of {short(ref.checksum)}...); "
                        "not copied to MLflow"
                    )
            for folder in ("outputs", "files"):
                if (Path(tmp) / folder).is_dir():
                    self._client.log_artifacts(
                        self.mlflow_run_id, str(Path(tmp) / folder), f"{task.step}/{folder}"
                    )


def _ms(seconds: float | None) -> int:
    return int((seconds or 0) * 1000)


def _key(name: str) -> str:
    """An MLflow key: at most 250 characters of ``[\\w\\-. /]``, others replaced by ``_``."""
    cleaned = "".join(c if c.isalnum() or c in "_-. /" else "_" for c in name)
    return cleaned[:MAX_KEY] or "_"


def _suffix(uri: str) -> str:
    tail = uri.rsplit("/", 1)[-1]
    return "." + tail.rsplit(".", 1)[1] if "." in tail else ""
