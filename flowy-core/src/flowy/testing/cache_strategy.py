"""The contract every :class:`~flowy.kernel.contracts.CacheStrategy` must meet, as tests.

Subclass :class:`CacheStrategyContract` in a class whose name starts with
``Test``, say what your key part depends on, and provide a ``strategy``::

    class TestMyStrategy(CacheStrategyContract):
        sensitive_to = frozenset({"params", "inputs"})
        plugins = [("flowy-mycache", "flowy_mycache.plugin")]   # who registers it

        @pytest.fixture
        def strategy(self):
            return MyStrategy()

A wrong cache key either re-runs work for nothing or, worse, re-uses a result
that no longer matches its step. So the suite checks both directions, for each
change the engine can see (:data:`CHANGES`): a change in ``sensitive_to`` must
change the key part, every other change must leave it alone. It also checks
that the key part is a string that is the same on every call, in a fresh
instance and in a fresh process with another hash seed (``hash()`` of a string
is not); that a parameter it cannot hash raises
:class:`~flowy.kernel.contracts.UncacheableError` naming the parameter (the engine then
runs the step uncached: a partial key is never used); that it is registered
under its ``name``; and, with flowy-executor-local and flowy-store-sqlite
installed, that a real pipeline run re-uses and re-runs the step accordingly.

The steps live in a module file written to a temporary folder, so they count
as the user's own code (as in a real project), and tasks are built the way the
engine builds them.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import pytest

from flowy.kernel.contracts import UncacheableError
from flowy.kernel.records import ArtifactRef, ComponentSpec, StepTask
from flowy.run.caching import code_hash
from flowy.testing._executor_support import import_path_module, load_path_module

if TYPE_CHECKING:
    from flowy.kernel.contracts import CacheStrategy
    from flowy.run.steps import Step

__all__ = ["CHANGES", "CacheStrategyContract"]

#: What can change between two runs of a step, as the suite makes it change:
#: ``code`` the step's body, ``helper`` a user function the step calls,
#: ``params`` a parameter value, ``inputs`` an input artifact's checksum,
#: ``materializer`` the materializer version that wrote an input.
CHANGES = ("code", "helper", "params", "inputs", "materializer")

_STEPS = """
from flowy import step


def helper(n):
    return n + {helper}


@step(cache={cache!r})
def load():
    return [1, 2, 3]


@step(cache={cache!r})
def train(load, rate):
    return helper(len(load)) * rate * {factor}
"""


def _write_module(folder: Path, cache: str, helper: int = 1, factor: int = 1) -> Any:
    """Write and import a module of steps under a fresh name (user code, like a project's)."""
    name = f"flowy_cache_contract_{uuid.uuid4().hex[:12]}"
    return load_path_module(folder, name, _STEPS.format(cache=cache, helper=helper, factor=factor))


def _input(checksum: str = "a" * 64, version: str = "1") -> ArtifactRef:
    return ArtifactRef("load", "mem://load", checksum, 12, "json", version, "builtins.list")


def make_task(
    step: Step, params: dict[str, Any], inputs: dict[str, ArtifactRef] | None = None
) -> StepTask:
    """A task for ``step`` as the engine builds one (code hash included)."""
    return StepTask(
        run_id=uuid.uuid4().hex,
        pipeline="contract",
        step=step.name,
        step_ref=step.ref,
        code_hash=code_hash(step.fn) if step.cache else "",
        params=params,
        inputs={"load": _input()} if inputs is None else inputs,
        outputs=list(step.outputs),
        artifact_store=ComponentSpec("artifact_store", "local", {}),
    )


class CacheStrategyContract:
    """Behaviour tests for a cache strategy; subclasses provide ``strategy``."""

    #: Which of :data:`CHANGES` must change the key part; all others must not.
    sensitive_to: ClassVar[frozenset[str]] = frozenset()
    #: ``(entry-point name, module path)`` of the plugins that register the strategy.
    plugins: ClassVar[list[tuple[str, str]]] = []

    @pytest.fixture
    def strategy(self) -> CacheStrategy:
        raise NotImplementedError("subclasses of CacheStrategyContract provide `strategy`")

    @pytest.fixture
    def steps(self, tmp_path: Path, strategy: CacheStrategy) -> Any:
        return _write_module(tmp_path, strategy.name)

    def key(self, strategy: CacheStrategy, step: Step, **params: Any) -> str:
        return strategy.key_part(step, make_task(step, {"rate": 0.5, **params}))

    # -- the contract ----------------------------------------------------------

    def test_key_part_is_a_string_the_same_on_every_call(
        self, strategy: CacheStrategy, steps: Any
    ) -> None:
        first = self.key(strategy, steps.train)
        assert isinstance(first, str) and first, "key_part must return a non-empty string"
        assert self.key(strategy, steps.train) == first
        assert self.key(type(strategy)(), steps.train) == first, "a fresh instance disagrees"

    def test_key_part_is_the_same_in_another_process(
        self, strategy: CacheStrategy, steps: Any
    ) -> None:
        cls = type(strategy)
        target = f"{cls.__module__}:{cls.__qualname__}"
        if cls.__module__ == "__main__" or "<locals>" in cls.__qualname__:
            pytest.skip(f"{target} cannot be imported by another process")
        code = (
            "import sys; from flowy.testing.cache_strategy import _key_in_this_process as k; "
            "print(k(*sys.argv[1:]))"
        )
        env = {**os.environ, "PYTHONHASHSEED": "12345"}
        argv = [sys.executable, "-c", code, steps.__flowy_path__, target]
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == self.key(strategy, steps.train), (
            "the key part differs in another process: is it built from hash() or id()?"
        )

    @pytest.mark.parametrize("change", CHANGES)
    def test_change_detection(
        self, strategy: CacheStrategy, steps: Any, tmp_path: Path, change: str
    ) -> None:
        base = self.key(strategy, steps.train)
        if change in ("code", "helper"):
            other = _write_module(
                tmp_path, strategy.name, helper=2 if change == "helper" else 1,
                factor=2 if change == "code" else 1,
            )  # fmt: skip
            changed = self.key(strategy, other.train)
        elif change == "params":
            changed = self.key(strategy, steps.train, rate=0.25)
        else:
            ref = _input("b" * 64) if change == "inputs" else _input(version="2")
            task = make_task(steps.train, {"rate": 0.5}, {"load": ref})
            changed = strategy.key_part(steps.train, task)
        if change in self.sensitive_to:
            assert changed != base, f"a change of {change} must change the key part"
        else:
            assert changed == base, (
                f"a change of {change} changed the key part; add it to sensitive_to if intended"
            )

    def test_sensitive_to_names_known_changes(self) -> None:
        unknown = set(self.sensitive_to) - set(CHANGES)
        assert not unknown, f"sensitive_to has {unknown}; known changes: {CHANGES}"

    def test_unhashable_parameter_raises_uncacheable_naming_it(
        self, strategy: CacheStrategy, steps: Any
    ) -> None:
        task = make_task(steps.train, {"rate": object()})
        if "params" not in self.sensitive_to:
            assert isinstance(strategy.key_part(steps.train, task), str)
            return
        with pytest.raises(UncacheableError) as info:
            strategy.key_part(steps.train, task)
        assert "rate" in info.value.what, "UncacheableError.what must name the parameter"

    def test_registered_under_its_name(self, strategy: CacheStrategy) -> None:
        from flowy.kernel.plugins import create_plugin_manager

        assert isinstance(strategy.name, str) and strategy.name
        plugins = [(name, importlib.import_module(module)) for name, module in self.plugins]
        manager = create_plugin_manager(entrypoints=False, plugins=plugins)
        assert manager.registry.get("cache", strategy.name).load() is type(strategy)

    def test_a_real_run_reuses_and_reruns_accordingly(
        self, strategy: CacheStrategy, steps: Any, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:  # fmt: skip
        pytest.importorskip("flowy_executor_local")
        pytest.importorskip("flowy_store_sqlite")
        from flowy.kernel.plugins import create_plugin_manager
        from flowy.run.engine import run_pipeline
        from flowy.run.pipeline import Pipeline

        project = tmp_path / "project"
        (project / ".flowy").mkdir(parents=True)
        monkeypatch.setenv("FLOWY_HOME", str(tmp_path / "home"))
        monkeypatch.delenv("FLOWY_STACK", raising=False)
        first_party = ["flowy_executor_local.plugin", "flowy_store_sqlite.plugin"]
        named = [*self.plugins, *((m.split(".")[0], m) for m in first_party)]
        manager = create_plugin_manager(
            entrypoints=False, plugins=[(n, importlib.import_module(m)) for n, m in named]
        )
        pipeline = Pipeline("contract", [steps.load, steps.train], context={"rate": 0.5})

        def statuses(**params: Any) -> dict[str, str]:
            result = run_pipeline(
                pipeline, stack="local", params=params, plugins=manager, project=project
            )
            return {name: record.status for name, record in result.steps.items()}

        assert statuses() == {"load": "completed", "train": "completed"}
        assert statuses() == {"load": "cached", "train": "cached"}
        expected = "completed" if "params" in self.sensitive_to else "cached"
        assert statuses(rate=0.25)["train"] == expected


def _key_in_this_process(module_path: str, target: str) -> str:
    """Used by the cross-process check: the key part of the same step and task, here."""
    from flowy.kernel.registry import import_target

    module = import_path_module(Path(module_path))
    strategy = import_target(target)()
    return str(strategy.key_part(module.train, make_task(module.train, {"rate": 0.5})))
