"""Running pipelines: context, steps, pipelines, loading, the engine, the worker, caching and
explain. Imports the kernel, artifacts and stacks.

The names below are this layer's public surface: what executors, the CLI and other plugins
use (the worker-side functions every executor runs, loading a pipeline from a file, the
engine's entry point). They are imported from their submodules on first use, so
``import flowy.run`` costs nothing; the submodules themselves are private, and the
``plugins-public-api`` import contract (pyproject.toml) keeps plugins out of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowy.kernel import lazy_exports

#: Public name -> "module" or "module:attribute" it comes from (see flowy.kernel.lazy_exports).
_LAZY = {
    # the engine and what it returns
    "RunResult": "flowy.run.engine",
    "run_pipeline": "flowy.run.engine",
    "Step": "flowy.run.steps",
    # loading a pipeline file and its parameters, explaining and drawing it
    "load_pipeline": "flowy.run.loader",
    "split_spec": "flowy.run.loader",
    "import_recorded": "flowy.run.loader",
    "importable_name": "flowy.kernel.user_modules",
    "load_params_file": "flowy.run.params:load_file",
    "params_from_text": "flowy.run.params:from_text",
    "explain_cache": "flowy.run.explain",
    "render_dag": "flowy.run.dag_view:render",
    # parameter sweeps: a spec from the command line or a file, run, and what they return
    "SWEEP_PARAM": "flowy.run.sweep_spec",
    "SweepEvent": "flowy.run.sweep_pool:Event",
    "SweepResult": "flowy.run.sweep",
    "SweepRun": "flowy.run.sweep",
    "load_sweep_file": "flowy.run.sweep_spec:load_file",
    "run_sweep": "flowy.run.sweep:sweep",
    "sweep_from_cli": "flowy.run.sweep_spec:from_cli",
    "requirements_text": "flowy.run.facts",
    # the worker side: what every executor runs, in or out of this process
    "StepInterrupted": "flowy.run.worker",
    "WorkerRuntime": "flowy.run.worker",
    "execute_attempt": "flowy.run.worker",
    "retry_types": "flowy.run.worker",
    "run_with_retries": "flowy.run.worker",
    "runtime_from_task": "flowy.run.worker",
    "timed_out_result": "flowy.run.worker",
    "worker_died_result": "flowy.run.worker",
    "die_with_parent": "flowy.run.forked",
    "run_attempt_forked": "flowy.run.forked",
    "point_outside": "flowy.run.native_output",
    "children_watched": "flowy.run.groupwatch",
    "forget_group": "flowy.run.groupwatch",
    "start_watchdog": "flowy.run.groupwatch",
    "watch_group": "flowy.run.groupwatch",
}

__all__ = [  # spelled out (not *_LAZY) so linters and type checkers can read it
    "SWEEP_PARAM",
    "RunResult",
    "Step",
    "StepInterrupted",
    "SweepEvent",
    "SweepResult",
    "SweepRun",
    "WorkerRuntime",
    "children_watched",
    "die_with_parent",
    "execute_attempt",
    "explain_cache",
    "forget_group",
    "import_recorded",
    "importable_name",
    "load_params_file",
    "load_pipeline",
    "load_sweep_file",
    "params_from_text",
    "point_outside",
    "render_dag",
    "requirements_text",
    "retry_types",
    "run_attempt_forked",
    "run_pipeline",
    "run_sweep",
    "run_with_retries",
    "runtime_from_task",
    "split_spec",
    "start_watchdog",
    "sweep_from_cli",
    "timed_out_result",
    "watch_group",
    "worker_died_result",
]

if TYPE_CHECKING:  # listed in __all__, so re-exported for type checkers (strict mypy)
    from flowy.kernel.user_modules import importable_name
    from flowy.run.dag_view import render as render_dag
    from flowy.run.engine import RunResult, run_pipeline
    from flowy.run.explain import explain_cache
    from flowy.run.facts import requirements_text
    from flowy.run.forked import die_with_parent, run_attempt_forked
    from flowy.run.groupwatch import children_watched, forget_group, start_watchdog, watch_group
    from flowy.run.loader import import_recorded, load_pipeline, split_spec
    from flowy.run.native_output import point_outside
    from flowy.run.params import from_text as params_from_text
    from flowy.run.params import load_file as load_params_file
    from flowy.run.steps import Step
    from flowy.run.sweep import SweepResult, SweepRun
    from flowy.run.sweep import sweep as run_sweep
    from flowy.run.sweep_pool import Event as SweepEvent
    from flowy.run.sweep_spec import SWEEP_PARAM
    from flowy.run.sweep_spec import from_cli as sweep_from_cli
    from flowy.run.sweep_spec import load_file as load_sweep_file
    from flowy.run.worker import (
        StepInterrupted,
        WorkerRuntime,
        execute_attempt,
        retry_types,
        run_with_retries,
        runtime_from_task,
        timed_out_result,
        worker_died_result,
    )

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
