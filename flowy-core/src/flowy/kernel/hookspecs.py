"""Every hook a Flowy plugin can implement.

A plugin is a module (named by an entry point in the ``flowy`` group) with
functions decorated ``@flowy.hookimpl`` whose names match these specs.

Two families:

* **Registration hooks** (``flowy_register_*``) are called once, when a plugin
  manager first needs its registry. Each receives a ``register`` callback and
  returns nothing. Registrations name *dotted paths* (``"pkg.module:Class"``),
  so registering imports nothing heavy; the class is imported when a stack
  resolves it. The callback records which distribution registered what. For
  component classes it is ``register(name, "pkg.module:Class", /, **info)``:
  ``name`` is what stacks use, and ``info`` the optional keywords each hook lists
  (``description`` for all).
* **Lifecycle hooks** (``flowy_pipeline_*``, ``flowy_step_*``) are called by the
  engine in the orchestrating process as a run progresses. Trackers and other
  observers implement them. They are not firstresult: every implementation is
  called, and an exception raised by one is reported as a warning naming the
  plugin; it never fails the run.
* **Recording hooks** (``flowy_step_recorded``) are called by the engine as part
  of writing a run's record, so they are not observers: an exception fails the
  run as a failed metadata-store write would. Flowy's own model registry is one.

Specs grow by adding arguments, never by removing or renaming them. A test
fails when one of them is missing from docs/plugins.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from flowy.kernel.contracts import LiveStep, MetadataStore
    from flowy.kernel.records import CacheEntry, RunRecord, StepResult, StepRunRecord, StepTask
    from flowy.kernel.registry import Register, RegisterCommand, RegisterStack

hookspec = pluggy.HookspecMarker("flowy")


# -- registration hooks ---------------------------------------------------


@hookspec
def flowy_register_component_kinds(register: Register) -> None:
    """Add a new kind of stack component.

    Called first, before the other registration hooks. ``register(name,
    base="pkg.module:BaseClass", description="...")`` declares a kind (for
    example ``"feature_store"``) that stacks may then name like the built-in
    kinds (executor, artifact_store, metadata_store, tracker, cache,
    materializer). Returns nothing.

    Args:
        register: the callback, ``register(name, /, base="builtins:object",
            description="")``: ``name`` is the new kind; ``base`` the dotted path of the
            abstract base its implementations subclass.
    """


@hookspec
def flowy_register_executors(register: Register) -> None:
    """Register executors (implementations of :class:`flowy.kernel.contracts.Executor`).

    ``register(name, "pkg.module:Class", description="...")`` makes ``name``
    available as a stack's ``executor``. Returns nothing.

    Args:
        register: the callback, called once per executor class; flowy-executor-local calls
            ``register("local", "flowy_executor_local.executor:LocalExecutor",
            description="...")``, and a stack then says ``[executor] type = "local"``.
    """


@hookspec
def flowy_register_artifact_stores(register: Register) -> None:
    """Register artifact stores (:class:`flowy.kernel.contracts.ArtifactStore`).

    ``register(name, "pkg.module:Class", description="...")`` makes ``name``
    available as a stack's ``artifact_store``. Returns nothing.

    Args:
        register: the callback, called once per store class; flowy-aws calls
            ``register("s3", "flowy_aws.s3_store:S3ArtifactStore", description="...")``,
            and a stack's ``[artifact_store]`` with ``type = "s3"`` gets that class.
    """


@hookspec
def flowy_register_metadata_stores(register: Register) -> None:
    """Register metadata stores (:class:`flowy.kernel.contracts.MetadataStore`).

    ``register(name, "pkg.module:Class", description="...")`` makes ``name``
    available as a stack's ``metadata_store``. Returns nothing.

    Args:
        register: the callback, called once per store class, as flowy-store-sqlite does with
            ``register("sqlite", "flowy_store_sqlite.sqlite:SQLiteMetadataStore")``; the
            module is imported only when a stack naming ``"sqlite"`` is resolved.
    """


@hookspec
def flowy_register_materializers(register: Register) -> None:
    """Register materializers (:class:`flowy.kernel.contracts.Materializer`).

    ``register(name, "pkg.module:Class", /, *, types, extension=<the class's>,
    safe=True, priority=0, requires=(), install=<requires' package>, format="",
    materializer_version=None, description="")`` (each keyword's meaning:
    docs/materializers.md, "register() keywords"). ``types`` are fully
    qualified type names matched against each object's MRO, so choosing a
    materializer imports nothing. The most specific type wins; among equals
    the highest ``priority``, then the distribution name in alphabetical
    order. ``requires`` names the modules (import names) the materializer
    needs (shown as unavailable when missing). Returns nothing.

    Args:
        register: the callback, called once per materializer with the keywords above;
            flowy-core's own ``json`` one is ``register("json",
            "flowy.artifacts.json_materializer:JsonMaterializer", types=[...], safe=True)``.
    """


@hookspec
def flowy_register_cache_strategies(register: Register) -> None:
    """Register cache strategies (:class:`flowy.kernel.contracts.CacheStrategy`).

    ``register(name, "pkg.module:Class", description="...")``. A step's
    ``cache="a,b"`` option names the strategies whose key parts make its key.
    Returns nothing.

    Args:
        register: the callback, called once per strategy; flowy-core registers
            ``register("code_hash", "flowy.run.caching:CodeHash")`` and ``"input_hash"``.
    """


@hookspec
def flowy_register_cache_indexes(register: Register) -> None:
    """Register cache indexes (:class:`flowy.kernel.cache_index.CacheIndex`).

    ``register(name, "pkg.module:Class", description="...")`` makes ``name``
    available as a stack's ``cache_index``: a shared index of cache entries the
    engine consults when the metadata store's own cache misses, publishes new
    entries to, and reports hits to once per run (docs/caching.md). A stack
    without one uses the store's cache alone. Returns nothing.

    Args:
        register: the callback, called once per index class; flowy-cache-redis calls
            ``register("redis", "flowy_cache_redis.index:RedisCacheIndex")``.
    """


@hookspec
def flowy_register_trackers(register: Register) -> None:
    """Register trackers: classes whose instances implement lifecycle hooks.

    ``register(name, "pkg.module:Class", description="...")`` makes ``name``
    available as a stack's ``tracker``. For the length of a run the engine
    registers the stack's tracker instance with the plugin manager, so its
    ``flowy_step_finished`` (and other lifecycle) methods are called. These
    hooks are the only way the engine talks to a tracker; Flowy's own record
    (metrics, parameters, artifacts) is written by the engine, not by a
    tracker (docs/experiment-tracking.md). Returns nothing.

    Args:
        register: the callback, called once per tracker class; flowy-mlflow calls
            ``register("mlflow", "flowy_mlflow.tracker:MlflowTracker")``, and the instance
            a stack's ``[tracker]`` builds receives the lifecycle hooks of each run.
    """


@hookspec
def flowy_register_asset_types(register: Register) -> None:
    """Register asset types (subclasses of :class:`flowy.kernel.assets.Asset`).

    ``register(type_name, "pkg.module:Class", description="...")``, where
    ``type_name`` is the class's ``asset_type`` (``"dataset"``, ``"model"``, ...).
    An artifact written from an asset stores the asset's description (its type
    name, name, tags, properties and fields) in its metadata; when the artifact
    is loaded (as a step input, from ``RunResult`` or ``Client.load``) the class
    registered under that type name wraps the loaded value again, so a plugin's
    own asset type comes back as itself. Flowy's built-in types (Dataset, Model,
    Metrics, FeatureSet, Report, Artifact) are registered through this hook by
    flowy-core's built-in plugin, as a plugin registers its own. A type name no
    installed plugin registers (its plugin was uninstalled) loads as a
    :class:`~flowy.kernel.assets.RecordedAsset` that keeps the recorded type and
    fields. Returns nothing.

    Args:
        register: the callback; call it once per asset class, ``register(type_name, target,
            /, **info)``. ``type_name`` is the name stored in artifacts' metadata (the class's
            ``asset_type``); ``target`` the dotted path ``"pkg.module:Class"``, imported only
            when an artifact of that type is loaded; ``info`` optional keywords
            (``description``).
    """


@hookspec
def flowy_register_notifiers(register: Register) -> None:
    """Register notifiers: where alerts are sent (subclasses of ``flowy.kernel.alerting.Notifier``).

    ``register(name, "pkg.module:Class", description="...")`` makes ``name``
    usable as the ``type`` of a ``[notifiers.NAME]`` table in a project's
    ``.flowy/config.toml``; the class is imported when an alert is first sent
    and built with the table's other options (``{env:NAME}`` references
    resolved). flowy-notifiers registers ``webhook``, ``slack``, ``discord`` and
    ``email`` through this hook (docs/operations.md, "Notifiers"). Returns nothing.

    Args:
        register: the callback, called once per notifier class; flowy-notifiers calls
            ``register("webhook", "flowy_notifiers.webhook:WebhookNotifier")``.
    """


@hookspec
def flowy_register_stacks(register: RegisterStack) -> None:
    """Offer predefined stacks.

    ``register(name, {"executor": {"type": "local"}, "artifact_store":
    {"type": "s3", "bucket": "{env:FLOWY_BUCKET}"}, ...}, description="...",
    required_options={"artifact_store": ["bucket"]})``. Stacks the user
    defines in files take precedence over plugin stacks of the same name.
    Returns nothing.

    Args:
        register: the callback, ``register(name, components, /, description="",
            required_options={})``: ``components`` maps each kind to ``{"type": NAME,
            **options}``; ``required_options`` maps a kind to the options the user must supply
            (``flowy stack switch`` asks for them).
    """


@hookspec
def flowy_register_commands(register: RegisterCommand) -> None:
    """Add command groups to the ``flowy`` CLI.

    ``register(name, "pkg.module:click_group", help="one line")``. The target
    is imported only when the command is invoked, so ``flowy --help`` stays
    fast however many plugins are installed. A name of two words (``"model
    serve"``) adds a subcommand to the built-in ``flowy model`` group. Returns nothing.

    Args:
        register: the callback, ``register(name, target, /, *, help="")``: ``name`` becomes
            ``flowy NAME``; ``target`` is the dotted path of a click command or group; ``help``
            the line ``flowy --help`` shows.
    """


@hookspec
def flowy_register_predictors(register: Register) -> None:
    """Register predictors: how ``flowy model serve`` and ``predict`` call a model type.

    ``register(name, "pkg.module:Class", types=[...], description="...")``:
    ``types`` are fully qualified type names matched against a loaded model's MRO
    (the most specific wins, as for materializers), so choosing one imports
    nothing. The class subclasses ``flowy_serve.predictors.Predictor`` (see
    docs/serving.md, "Predictors for other model types"). flowy-serve registers
    its own (sklearn, torch, keras) through this hook. Returns nothing.

    Args:
        register: the callback, called once per predictor class; flowy-serve calls
            ``register("sklearn", "flowy_serve.predictors:SklearnPredictor",
            types=["sklearn.base.BaseEstimator"])``.
    """


# -- lifecycle hooks ------------------------------------------------------


@hookspec
def flowy_pipeline_started(run: RunRecord) -> None:
    """A run was recorded and is about to execute its first step.

    Args:
        run: the run's :class:`~flowy.kernel.records.RunRecord` (id, pipeline, parameters, stack,
            git and environment facts).
    """


@hookspec
def flowy_pipeline_finished(run: RunRecord, status: str) -> None:
    """A run ended with ``status`` (completed, failed or cancelled).

    Args:
        run: the run's :class:`~flowy.kernel.records.RunRecord` (id, pipeline, parameters, stack,
            git and environment facts).
        status: how the run ended: ``completed``, ``failed`` or ``cancelled``.
    """


@hookspec
def flowy_step_started(run: RunRecord, task: StepTask) -> None:
    """A step task was handed to the executor.

    Args:
        run: the run's :class:`~flowy.kernel.records.RunRecord` (id, pipeline, parameters, stack,
            git and environment facts).
        task: the step's :class:`~flowy.kernel.records.StepTask` as handed to the executor.
    """


@hookspec
def flowy_step_finished(run: RunRecord, task: StepTask, result: StepResult) -> None:
    """A step completed; its outputs are stored and recorded.

    Also fired, with ``result.status == "fallback"`` and the reason as
    ``result.error``, for a step whose circuit breaker was open and whose
    ``fallback`` supplied its outputs (see docs/operations.md).

    Args:
        run: the run's :class:`~flowy.kernel.records.RunRecord` (id, pipeline, parameters, stack,
            git and environment facts).
        task: the step's :class:`~flowy.kernel.records.StepTask` as handed to the executor.
        result: the worker's :class:`~flowy.kernel.records.StepResult` (status ``completed``,
            outputs with their artifact ids, logs, metrics, timings).
    """


@hookspec
def flowy_step_failed(run: RunRecord, task: StepTask, result: StepResult) -> None:
    """A step failed or timed out after its last attempt. Called before the
    step's ``on_failure`` callback; the run goes on with independent branches.

    Args:
        run: the run's :class:`~flowy.kernel.records.RunRecord` (id, pipeline, parameters, stack,
            git and environment facts).
        task: the step's :class:`~flowy.kernel.records.StepTask` as handed to the executor.
        result: the :class:`~flowy.kernel.records.StepResult` of the last attempt (status
            ``failed`` or ``timed_out``, error, error type, traceback, attempts).
    """


@hookspec
def flowy_step_retrying(run: RunRecord, task: StepTask, result: StepResult, delay: float) -> None:
    """An attempt of a step failed and the step will run again after ``delay`` seconds.

    Called as it happens, before the wait (so a display can say so while the step is
    still running), once per attempt that is retried; the last attempt is reported by
    :func:`flowy_step_finished` or :func:`flowy_step_failed` instead. Executors report
    retries through :meth:`~flowy.kernel.contracts.WorkerRuntime.report_retry` (the
    :func:`flowy.run.run_with_retries` loop does it for them); for steps running in another
    thread or process the call may come from another thread of the orchestrating process,
    one call at a time.

    Args:
        run: the run's :class:`~flowy.kernel.records.RunRecord` (id, pipeline, parameters, stack,
            git and environment facts).
        task: the step's :class:`~flowy.kernel.records.StepTask` as handed to the executor.
        result: the failed attempt's :class:`~flowy.kernel.records.StepResult`: ``attempts`` is
            the number of attempts made so far (1 for the first), status ``failed`` or
            ``timed_out``, error, error type and traceback; ``task.retries + 1`` attempts are
            allowed in all.
        delay: seconds until the next attempt starts (``retry_backoff * 2**n``).
    """


@hookspec
def flowy_step_cached(run: RunRecord, task: StepTask, entry: CacheEntry) -> None:
    """A step was satisfied from the cache without running.

    Args:
        run: the run's :class:`~flowy.kernel.records.RunRecord` (id, pipeline, parameters, stack,
            git and environment facts).
        task: the step's :class:`~flowy.kernel.records.StepTask` as handed to the executor.
        entry: the :class:`~flowy.kernel.records.CacheEntry` that satisfied it: key, key parts, the
            run that produced the outputs and their artifact ids.
    """


@hookspec
def flowy_step_skipped(run: RunRecord, step: str, reason: str) -> None:
    """A step did not run: its ``when`` was false or an upstream step failed.

    Args:
        run: the run's :class:`~flowy.kernel.records.RunRecord` (id, pipeline, parameters, stack,
            git and environment facts).
        step: the skipped step's name.
        reason: why, in words (its ``when`` was false, or which upstream step failed).
    """


@hookspec
def flowy_step_mapped(run: RunRecord, step: str, count: int) -> None:
    """A mapped step (``@step(map=...)``) found how many elements it runs over.

    Each element then runs as its own step, ``step[0]`` to ``step[count - 1]``, with
    the usual started, finished, cached, failed and skipped hooks; the mapped step
    itself is finished (or failed) once every element settled.

    Args:
        run: the run's :class:`~flowy.kernel.records.RunRecord` (id, pipeline, parameters, stack,
            git and environment facts).
        step: the mapped step's name.
        count: how many elements it runs (0 for an empty list: it finishes at once).
    """


@hookspec
def flowy_metric_logged(run: RunRecord, step: str, name: str, value: float, index: Any) -> None:
    """A metric logged inside a step reached the orchestrator (after the step).

    Args:
        run: the run's :class:`~flowy.kernel.records.RunRecord` (id, pipeline, parameters, stack,
            git and environment facts).
        step: the step that logged it.
        name: the metric's name.
        value: its value (NaN and ±inf are passed as they are).
        index: the series index given as ``log_metric(step=...)``, or None.
    """


# -- recording hooks ------------------------------------------------------


@hookspec
def flowy_step_recorded(
    run: RunRecord, step: LiveStep, record: StepRunRecord, store: MetadataStore
) -> None:
    """A completed or cached step's record was committed to the metadata store.

    Called in the orchestrating process, once per step run whose status is
    ``completed`` or ``cached``, after the record was committed: by
    :meth:`~flowy.kernel.contracts.MetadataStore.record_step`, or for cached
    steps possibly in a batch by
    :meth:`~flowy.kernel.contracts.MetadataStore.record_steps`. An
    implementation may write more to ``store`` about this step (Flowy's built-in
    implementation registers model versions for ``@step(register_model=...)``).
    Unlike the lifecycle hooks this is not an observer hook: an exception raised
    by an implementation propagates and fails the run, as a failed metadata-store
    write does, since what it records is part of the run's record. Not firstresult:
    every implementation is called; the return value is ignored.

    Args:
        run: the run's :class:`~flowy.kernel.records.RunRecord` (id, pipeline, parameters, stack,
            git and environment facts).
        step: the live step (:class:`~flowy.kernel.contracts.LiveStep`): its name, function,
            outputs and options such as ``register_model``, as the pipeline defines it.
        record: the :class:`~flowy.kernel.records.StepRunRecord` just committed (status
            ``completed`` or ``cached``, its inputs and outputs as artifact ids).
        store: the run's :class:`~flowy.kernel.contracts.MetadataStore`, the one that holds
            ``record``; writes to it are the implementation's own transactions.
    """
