"""``WandbTracker``: Flowy's lifecycle hooks, mirrored into a Weights & Biases run.

The engine builds one tracker per run from the stack's ``tracker`` options
and registers it with the plugin manager for the length of the run, so these
methods are ordinary hook implementations: the hooks are the only way the
engine talks to a tracker. Flowy's metadata store is written by the engine
whatever happens here; a W&B error reaches the user as one warning naming
this plugin, never as a failed run: the hook raises :class:`WandbMirrorError`
(the engine turns a raising hook into a ``RuntimeWarning``) and the tracker
stops mirroring that run; :meth:`WandbTracker.close`, called outside the
hooks, warns itself.

Mapping, one W&B run per Flowy run:

* project: the ``project`` option, else the run's Flowy experiment (made a
  valid W&B project name); entity, mode and folder: the options, else W&B's
  own defaults (``WANDB_ENTITY``, ``WANDB_MODE``, ``WANDB_DIR``);
* run id = the Flowy run id, name ``<pipeline>-<run id prefix>``, group =
  the pipeline, job type ``flowy-pipeline``; tags ``flowy``,
  ``pipeline:<name>``, ``stack:<name>`` and the ``tags`` option's;
* config: the run's parameters, then each step's (those its task carries,
  which leave out defaults the run never set, and those it logs); a key a
  step has with another value becomes
  ``<step>.<key>``, as in Flowy's own view of a run; Flowy's facts (run id,
  pipeline, experiment, stack, git) under ``flowy``;
* metrics: every value as a history row ``<step>/<name>`` plotted against
  the step's own axis ``<step>/_step`` holding Flowy's index (W&B's run-wide
  ``_step`` must only grow, a Flowy index restarts in every step), sent after
  each step; the summary keeps each metric's last value, as Flowy does;
* pipeline structure: summary ``flowy/steps/<step>`` = status, upstream
  steps, attempts and duration (or the run a cached step re-used, or why a
  step was skipped), and ``flowy/status``, the run's end status;
* artifacts: one W&B artifact of references per step (see
  :mod:`flowy_wandb.references`);
* the run's end: W&B exit code 0 (finished) for completed, 1 for failed and
  130 for cancelled (both shown as failed by W&B).

wandb is imported when the first run starts, so resolving a stack (and
``flowy --help``) never pays its import time.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

from flowy import hookimpl
from pydantic import BaseModel, ConfigDict, Field

from flowy_wandb.mapping import EXIT_CODES, INDEX, config_value, metric_rows, project_name, tag
from flowy_wandb.service import service_gone, start_afresh

if TYPE_CHECKING:
    from flowy.kernel.records import CacheEntry, RunRecord, StepResult, StepTask

#: W&B's job type for a mirrored Flowy run.
JOB_TYPE = "flowy-pipeline"

Hook = TypeVar("Hook", bound=Callable[..., None])


class WandbMirrorError(RuntimeError):
    """W&B failed while mirroring a run; the tracker stops mirroring that run."""


def _stops_on_failure(hook: Hook) -> Hook:
    """A W&B error ends the mirroring of this run, and says so once.

    Raised again as :class:`WandbMirrorError` for the engine to turn into one
    warning; the tracker then drops the W&B run, so a W&B service that died
    mid-run gives one warning, not one per remaining step. The W&B run is
    ended as failed where W&B still answers.
    """

    @functools.wraps(hook)  # pluggy reads the hook's arguments through __wrapped__
    def guarded(self: WandbTracker, *args: Any, **kwargs: Any) -> None:
        try:
            hook(self, *args, **kwargs)
        except Exception as exc:
            wandb_run, self.wandb_run = self.wandb_run, None
            if wandb_run is not None:
                _end_failed(wandb_run, exc)
            raise WandbMirrorError(
                f"W&B failed ({type(exc).__name__}: {exc}); this run is no longer mirrored "
                "to W&B. The Flowy run goes on and its metadata store records everything."
            ) from exc

    return guarded  # type: ignore[return-value]


def _end_failed(wandb_run: Any, exc: Exception) -> None:
    """End ``wandb_run`` as failed, saying why, where W&B still answers; if W&B's service
    died, tear wandb down so that the next run starts a new one (see :mod:`.service`)."""
    try:
        wandb_run.summary["flowy/mirroring"] = f"stopped: {type(exc).__name__}: {exc}"
        wandb_run.finish(exit_code=1)
    except Exception:  # noqa: BLE001 - it is already failing; the caller says why
        pass
    if service_gone(exc):
        start_afresh()


class WandbTrackerOptions(BaseModel):
    """Stack options of the ``wandb`` tracker."""

    model_config = ConfigDict(extra="forbid")

    project: str | None = None
    """W&B project; default: the run's Flowy experiment (``/ \\ # ? % :`` made ``-``)."""
    entity: str | None = None
    """W&B entity (user or team); default: W&B's (``WANDB_ENTITY``, else your default)."""
    mode: Literal["online", "offline", "disabled"] | None = None
    """``online``, ``offline`` (files only, ``wandb sync`` later) or ``disabled`` (nothing,
    wandb not even imported); default: W&B's (``WANDB_MODE``, else online)."""
    dir: str | None = None
    """Folder W&B writes its ``wandb/`` run folders into (created if missing); default:
    W&B's (``WANDB_DIR``, else the current directory)."""
    tags: list[str] = []
    """Extra W&B tags for every run."""
    artifacts: bool = True
    """Log each step's outputs and logged files as a W&B artifact of references."""
    init_timeout: float | None = Field(default=None, gt=0)
    """Seconds ``wandb.init`` may wait for a W&B server (the run's first step waits with
    it); default: W&B's (90)."""


class WandbTracker:
    """One Flowy run -> one W&B run (see the module docstring for the mapping)."""

    Options: ClassVar[Any] = WandbTrackerOptions

    def __init__(
        self,
        *,
        project: str | None = None,
        entity: str | None = None,
        mode: str | None = None,
        dir: str | None = None,
        tags: list[str] | None = None,
        artifacts: bool = True,
        init_timeout: float | None = None,
    ) -> None:
        self.project = project
        self.entity = entity
        self.mode = mode
        self.dir = dir
        self.tags = list(tags or [])
        self.artifacts = artifacts
        self.init_timeout = init_timeout
        #: The live W&B run while a Flowy run is mirrored (None before, after, or when off).
        self.wandb_run: Any = None
        self._params: dict[str, Any] = {}
        #: History keys already given to W&B's define_metric (each metric and step axis).
        self._axes: set[str] = set()
        #: Artifact id or URI -> the step that wrote it (for each step's upstream steps).
        self._producers: dict[str, str] = {}

    # -- lifecycle hooks ------------------------------------------------------

    @hookimpl
    @_stops_on_failure
    def flowy_pipeline_started(self, run: RunRecord) -> None:
        self._params, self._axes, self._producers = {}, set(), {}
        if self.mode == "disabled":
            return
        if self.dir is not None:
            Path(self.dir).mkdir(parents=True, exist_ok=True)  # else W&B quietly uses /tmp
        try:
            self.wandb_run = self._start(run)
        except Exception as exc:
            if not service_gone(exc):
                raise
            start_afresh()  # W&B's service died since this process's last run
            self.wandb_run = self._start(run)
        self._log_params(run.params)

    @hookimpl
    @_stops_on_failure
    def flowy_step_finished(self, run: RunRecord, task: StepTask, result: StepResult) -> None:
        self._mirror_step(run, task, result)

    @hookimpl
    @_stops_on_failure
    def flowy_step_failed(self, run: RunRecord, task: StepTask, result: StepResult) -> None:
        self._mirror_step(run, task, result)

    @hookimpl
    @_stops_on_failure
    def flowy_step_cached(self, run: RunRecord, task: StepTask, entry: CacheEntry) -> None:
        for artifact_id in entry.outputs.values():
            self._producers[artifact_id] = task.step
        if self.wandb_run is None:
            return
        self._log_params(task.params, prefix=f"{task.step}.")
        self._step_summary(
            task.step, status="cached", upstream=self._upstream(task), cached_from=entry.run_id
        )

    @hookimpl
    @_stops_on_failure
    def flowy_step_skipped(self, run: RunRecord, step: str, reason: str) -> None:
        if self.wandb_run is not None:
            self._step_summary(step, status="skipped", reason=reason)

    @hookimpl
    @_stops_on_failure
    def flowy_pipeline_finished(self, run: RunRecord, status: str) -> None:
        wandb_run, self.wandb_run = self.wandb_run, None
        if wandb_run is None:
            return
        wandb_run.summary["flowy/status"] = status
        wandb_run.finish(exit_code=EXIT_CODES.get(status, 1))

    def close(self) -> None:
        """End a W&B run left open (the Flowy run ended without its finished hook).

        Called by the engine outside the hooks, so it warns instead of raising.
        """
        wandb_run, self.wandb_run = self.wandb_run, None
        if wandb_run is None:
            return
        try:
            wandb_run.finish(exit_code=EXIT_CODES["cancelled"])
        except Exception as exc:  # noqa: BLE001 - a tracker never fails the run
            warnings.warn(
                f"flowy-wandb could not end W&B run {wandb_run.id}: {type(exc).__name__}: {exc}",
                RuntimeWarning,
                stacklevel=2,
            )

    # -- mirroring ------------------------------------------------------------

    def _start(self, run: RunRecord) -> Any:
        """``wandb.init`` of the W&B run mirroring ``run``."""
        import wandb

        stack = str(run.stack.get("name", ""))
        facts = {
            "run_id": run.run_id,
            "pipeline": run.pipeline,
            "experiment": run.experiment or run.pipeline,
            "stack": stack,
            "git": dict(run.git),
        }
        tags = ["flowy", f"pipeline:{run.pipeline}", *([f"stack:{stack}"] if stack else [])]
        settings = wandb.Settings(
            silent=True,
            console="off",  # Flowy captures step output itself
            x_disable_stats=True,
            x_save_requirements=False,  # Flowy records the environment itself
            save_code=False,
            disable_git=True,  # the run's git facts are Flowy's, under config.flowy.git
            git_commit=run.git.get("commit") or None,
        )
        if self.init_timeout is not None:
            settings.init_timeout = self.init_timeout
        return wandb.init(
            project=project_name(self.project or run.experiment or run.pipeline),
            entity=self.entity,
            mode=self.mode,  # type: ignore[arg-type]  # the options allow W&B's modes only
            dir=self.dir,
            id=run.run_id,
            name=f"{run.pipeline}-{run.run_id[:8]}",
            group=run.pipeline,
            job_type=JOB_TYPE,
            tags=[tag(t) for t in [*tags, *self.tags]],
            config={"flowy": facts},
            reinit="create_new",  # never end a run the user (or another Flowy run) has open
            settings=settings,
        )

    def _mirror_step(self, run: RunRecord, task: StepTask, result: StepResult) -> None:
        for ref in result.outputs.values():
            if ref.artifact_id:
                self._producers[ref.artifact_id] = task.step
            self._producers[ref.uri] = task.step
        if self.wandb_run is None:
            return
        axis = f"{task.step}/{INDEX}"
        for row in metric_rows(task.step, result.metrics):
            # Each key is defined by name, not by a glob: step names may hold glob
            # characters (a map element is ``train[0]``).
            new = row.keys() - self._axes
            if axis in new:
                self.wandb_run.define_metric(axis, hidden=True)
            for key in sorted(new - {axis}):
                self.wandb_run.define_metric(key, step_metric=axis)
            self._axes |= new
            self.wandb_run.log(row)
        self._log_params({**task.params, **result.params_logged}, prefix=f"{task.step}.")
        upstream = self._upstream(task)
        self._step_summary(
            task.step,
            status=result.status,
            upstream=upstream,
            attempts=result.attempts,
            duration_s=round(max(result.finished_at - result.started_at, 0.0), 6),
        )
        if self.artifacts:
            from flowy_wandb.references import step_artifact

            artifact = step_artifact(run, task, result, upstream)
            if artifact is not None:
                self.wandb_run.log_artifact(artifact, aliases=["latest", f"run-{run.run_id}"])

    def _log_params(self, params: dict[str, Any], prefix: str = "") -> None:
        new = {}
        for key, raw in params.items():
            value = config_value(raw)
            name = key
            if self._params.get(name, value) != value:
                name = prefix + key  # as Flowy shows a run: a differing value is <step>.<key>
            if name in self._params:
                continue
            self._params[name] = new[name] = value
        if new:
            self.wandb_run.config.update(new)

    def _step_summary(self, step: str, **facts: Any) -> None:
        self.wandb_run.summary[f"flowy/steps/{step}"] = facts

    def _upstream(self, task: StepTask) -> list[str]:
        found = (
            self._producers.get(ref.artifact_id) or self._producers.get(ref.uri)
            for ref in task.inputs.values()
        )
        return sorted({step for step in found if step and step != task.step})
