"""Pipeline: steps wired into a DAG by their inputs and outputs, checked up front."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from flowy.kernel import names
from flowy.kernel.errors import ParameterError, PipelineDefinitionError
from flowy.run import nesting
from flowy.run import params as params_mod
from flowy.run.context import Context
from flowy.run.steps import Step

if TYPE_CHECKING:
    import networkx as nx

    from flowy.run.engine import RunResult
    from flowy.run.sweep import SweepResult


class Pipeline:
    """A named DAG of steps with a context of parameters.

    Building a pipeline checks everything that can be checked before running:
    invalid names (see :mod:`flowy.kernel.names`), duplicate step names, two steps
    producing one output, an input nobody produces, a cycle (named step by
    step), and two steps annotating one parameter with different types. Each is
    a :class:`PipelineDefinitionError`. Parameters are checked when a run starts
    (:meth:`context_for`), since the run may supply what the context lacks.
    """

    def __init__(
        self,
        name: str,
        steps: Sequence[Step | Pipeline | nesting.NestedPipeline],
        context: Context | Mapping[str, Any] | None = None,
        *,
        experiment: str | None = None,
    ) -> None:
        self.name = names.check(names.PIPELINE, name, error=PipelineDefinitionError)
        if experiment is not None:
            names.check(
                names.EXPERIMENT, experiment, error=PipelineDefinitionError,
                where=f"Pipeline {name!r}: ",
            )  # fmt: skip
        self.experiment = experiment
        self.context = context if isinstance(context, Context) else Context(**(context or {}))
        # A pipeline among the steps becomes its steps, "<nest>.<step>" (flowy.run.nesting).
        flat = nesting.flatten(name, steps, self.context)
        steps, self.context = flat.steps, flat.context
        self.nests: dict[str, str] = flat.nests
        """Nest prefix (``prep``, ``prep.inner``) -> the name of the pipeline nested there."""
        self.steps: dict[str, Step] = {}
        for s in steps:
            if not isinstance(s, Step):
                raise PipelineDefinitionError(
                    f"Pipeline {name!r}: {s!r} is not a step; decorate it with @flowy.step"
                )
            _check_names(name, s)
            if s.name in self.steps:
                raise PipelineDefinitionError(f"Pipeline {name!r} has two steps named {s.name!r}")
            self.steps[s.name] = s
        self.producer: dict[str, str] = {}
        for s in self.steps.values():
            for out in s.outputs:
                if out in self.producer:
                    raise PipelineDefinitionError(
                        f"Pipeline {name!r}: output {out!r} is produced by both "
                        f"{self.producer[out]!r} and {s.name!r}; give one of them another "
                        "output name with @step(outputs=[...])."
                    )
                self.producer[out] = s.name
        self.inputs: dict[str, list[str]] = {}
        self.params: dict[str, list[str]] = {}
        for s in self.steps.values():
            self.inputs[s.name], self.params[s.name] = self._classify(s)
        self.upstream_of: dict[str, list[str]] = {
            n: sorted({self.producer[i] for i in [*self.inputs[n], *self._branch_on(n)]})
            for n in self.steps
        }
        self.downstream_of: dict[str, list[str]] = {n: [] for n in self.steps}
        for n, ups in self.upstream_of.items():
            for u in ups:
                self.downstream_of[u].append(n)
        self.order: list[str] = self._topological_order()
        self._graph: nx.DiGraph | None = None
        #: Parameter -> (annotation, steps annotating it); see :mod:`flowy.run.params`.
        self.annotations = params_mod.declared_types(name, self.steps, self.params)
        # A parameter missing from the context is not an error yet: the run may give
        # it (``--param``, ``run(lr=...)``); :meth:`context_for` checks when it starts.

    # -- building ------------------------------------------------------------

    def _classify(self, s: Step) -> tuple[list[str], list[str]]:
        if s.declared_inputs is not None:
            for inp in s.declared_inputs:
                if inp not in self.producer:
                    raise PipelineDefinitionError(
                        f"Pipeline {self.name!r}: step {s.name!r} needs input {inp!r} but no "
                        "step produces it. Outputs available: "
                        f"{', '.join(sorted(self.producer)) or 'none'}."
                    )
            inputs = list(s.declared_inputs)
        else:
            inputs = [p for p in s.parameters if p in self.producer]
        params = [p for p in s.parameters if p not in inputs]
        return inputs, params

    def _branch_on(self, name: str) -> list[str]:
        """The output ``name``'s ``branch=`` reads (its producer runs first), checked."""
        branch = self.steps[name].branch
        if branch is None:
            return []
        if branch[0] not in self.producer or self.producer[branch[0]] == name:
            raise PipelineDefinitionError(
                f"Pipeline {self.name!r}: step {name!r} branches on {branch[0]!r}, which no "
                "other step produces; name the output of an upstream step that computes "
                f"which branch runs. Outputs available: {', '.join(sorted(self.producer))}."
            )
        return [branch[0]]

    def _topological_order(self) -> list[str]:
        """Steps in dependency order, alphabetical within a generation; names any cycle.

        Uses the standard library's graphlib so that building a pipeline does not
        pay for importing networkx; :attr:`graph` gives the networkx view.
        """
        import graphlib

        sorter = graphlib.TopologicalSorter(self.upstream_of)
        try:
            sorter.prepare()
        except graphlib.CycleError as exc:
            cycle = list(reversed(exc.args[1]))
            raise PipelineDefinitionError(
                f"Pipeline {self.name!r} has a cycle: {' -> '.join(cycle)}. Each step there "
                "needs an output of the next; break the loop by renaming an input or an output."
            ) from None
        order: list[str] = []
        self.width = 0
        """The most steps that can run at once (the widest generation); 1 for a chain."""
        while sorter.is_active():
            ready = sorted(sorter.get_ready())
            order.extend(ready)
            self.width = max(self.width, len(ready))
            sorter.done(*ready)
        return order

    @property
    def graph(self) -> nx.DiGraph:
        """The DAG as a networkx graph (edges carry the ``outputs`` they pass)."""
        if self._graph is None:
            import networkx as nx

            graph: nx.DiGraph = nx.DiGraph()
            graph.add_nodes_from(self.order)
            for s in self.steps.values():
                for inp in [*self.inputs[s.name], *self._branch_on(s.name)]:
                    producer = self.producer[inp]
                    if graph.has_edge(producer, s.name):
                        graph.edges[producer, s.name]["outputs"].append(inp)
                    else:
                        graph.add_edge(producer, s.name, outputs=[inp])
            self._graph = graph
        return self._graph

    def check_params(self, context: Mapping[str, Any]) -> None:
        """Raise :class:`ParameterError` naming every parameter no value reaches.

        A parameter is missing when no upstream step produces it, ``context``
        lacks it and a step taking it has no default.
        """
        missing: dict[str, list[str]] = {}
        for s in self.steps.values():
            for p in self.params[s.name]:
                if p not in context and not s.has_default(p):
                    missing.setdefault(p, []).append(s.name)
        if missing:
            lines = [
                f"{p!r} (taken by step{'s' if len(steps) > 1 else ''} "
                f"{', '.join(repr(x) for x in steps)})"
                for p, steps in missing.items()
            ]
            first = next(iter(missing))
            raise ParameterError(
                f"Pipeline {self.name!r} needs parameter{'s' if len(missing) > 1 else ''} "
                f"{'; '.join(lines)}, which no step produces, the context lacks and no "
                f"default gives. Pass {' '.join(f'--param {p}=VALUE' for p in missing)} "
                f"(or pipeline.run({first}=...)), add {'them' if len(missing) > 1 else 'it'} "
                f"to the context (Context({first}=...)), or give the step a default."
            )

    # -- using ---------------------------------------------------------------

    @property
    def known_params(self) -> set[str]:
        names = set(self.context)
        for params in self.params.values():
            names.update(params)
        return names

    def context_for(self, overrides: Mapping[str, Any]) -> Context:
        """The run's context: ``overrides`` checked and applied, every value present and typed.

        Raises :class:`ParameterError` for an unknown parameter (with the nearest
        known name), a parameter nothing supplies, or a value that does not fit a
        step's annotation (coerced when it can be: ``"3"`` -> ``3`` for ``int``).
        """
        unknown = sorted(set(overrides) - self.known_params)
        if unknown:
            import difflib

            known = sorted(self.known_params)
            hints = [
                f" Did you mean {close[0]!r} for {u!r}?"
                for u in unknown
                if (close := difflib.get_close_matches(u, known, n=1))
            ]
            raise ParameterError(
                f"Unknown parameter(s) {', '.join(unknown)} for pipeline {self.name!r}."
                f"{''.join(hints)} Known parameters: {', '.join(known) or 'none'}."
            )
        context = self.context.child(**overrides) if overrides else self.context
        self.check_params(context)
        coerced = params_mod.coerce(self.name, self.annotations, context)
        return context.child(**coerced) if coerced else context

    def upstream(self, step: str) -> list[str]:
        return self.upstream_of[step]

    def descendants(self, step: str) -> set[str]:
        import networkx as nx

        return set(nx.descendants(self.graph, step))

    def run(
        self,
        stack: str | None = None,
        *,
        only: Iterable[str] | str | None = None,
        from_step: str | None = None,
        to_step: str | None = None,
        **params: Any,
    ) -> RunResult:
        """Run on ``stack`` (default: the active one) with parameter overrides.

        ``only``, ``from_step`` and ``to_step`` run part of the pipeline, as
        ``flowy run --only/--from/--to`` do (a parameter of one of these names
        is passed with :func:`flowy.run.engine.run_pipeline`'s ``params``).
        """
        from flowy.run.engine import run_pipeline

        return run_pipeline(
            self, stack=stack, params=params, only=only, from_step=from_step, to_step=to_step
        )

    def sweep(
        self,
        grid: Mapping[str, Sequence[Any]] | None = None,
        random: Mapping[str, Any] | None = None,
        n: int | None = None,
        *,
        seed: int | None = None,
        parallel: int | None = None,
        stack: str | None = None,
        experiment: str | None = None,
        **params: Any,
    ) -> SweepResult:
        """One run per combination of ``grid`` (name -> values) and/or ``n`` draws of
        ``random`` (name -> ``"log:1e-4..1e-1"``, ``"int:2..8"``, ``"0..1"`` or a list of
        choices), ``parallel`` at a time, under one experiment; steps that no swept
        parameter reaches run once. ``params`` are fixed for every run. See
        :mod:`flowy.run.sweep`.
        """
        from flowy.run import sweep_spec
        from flowy.run.sweep import sweep

        spec = sweep_spec.from_mapping(
            {"grid": grid, "random": random, "samples": n, "seed": seed}, "Pipeline.sweep"
        )
        return sweep(
            self, spec, params=params, parallel=parallel, stack=stack, experiment=experiment
        )

    def as_step(
        self,
        name: str | None = None,
        *,
        inputs: Mapping[str, str] | None = None,
        outputs: Sequence[str] | Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> nesting.NestedPipeline:
        """This pipeline as a step of another, its steps named ``<name>.<step>`` (default
        name: the pipeline's). ``inputs`` wires its parameters to outer outputs, ``params``
        to outer parameters of other names; ``outputs`` (a list, or a mapping that renames)
        are what the outer pipeline sees of it (default: its final outputs). See
        :mod:`flowy.run.nesting`."""
        return nesting.nested(self, name, inputs=inputs, outputs=outputs, params=params)

    def visualize(self, fmt: str = "text") -> str:
        """The DAG as ``text`` (steps by generation, with what each takes and makes),
        ``mermaid``, ``dot`` or ``svg`` (:mod:`flowy.run.dag_view`); parameters are shown
        with their default values (the context's, else the step's), as ``flowy show`` does."""
        from flowy.run import dag_view

        return dag_view.render(self, fmt)

    def __repr__(self) -> str:
        return f"<Pipeline {self.name} steps={list(self.steps)}>"


def _check_names(pipeline: str, s: Step) -> None:
    """Check ``s``'s names again (checked by ``@step``, but a Step's attributes can change)."""
    where = f"Pipeline {pipeline!r}: "
    names.check(names.STEP, s.name, error=PipelineDefinitionError, where=where)
    for out in s.outputs:
        names.check(
            names.OUTPUT, out, error=PipelineDefinitionError, where=f"{where}step {s.name!r}: "
        )


def find_pipelines(namespace: Mapping[str, Any]) -> dict[str, Pipeline]:
    return {k: v for k, v in namespace.items() if isinstance(v, Pipeline)}


def as_list(value: Iterable[str] | str | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)
