"""A pipeline as the engine, partial runs and the DAG views read it.

:class:`~flowy.run.pipeline.Pipeline` builds and checks a DAG of steps, and its
``run()`` and ``visualize()`` hand the pipeline to the engine
(:mod:`flowy.run.engine`) and to :mod:`flowy.run.dag_view`. Those modules only
read the finished graph, so they name this protocol instead of the class: the
pipeline module imports them, they never import it, and there is no cycle.
``Pipeline`` satisfies it structurally (strict mypy checks each call site).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import networkx as nx

    from flowy.run.context import Context
    from flowy.run.steps import Step


class PipelineGraph(Protocol):
    """A built pipeline: its steps, what each reads and makes, and their order."""

    @property
    def name(self) -> str:
        """The pipeline's name."""

    @property
    def experiment(self) -> str | None:
        """The experiment its runs are filed under (None: the pipeline's name)."""

    @property
    def context(self) -> Context:
        """Parameter values a run gets unless it overrides them."""

    @property
    def steps(self) -> Mapping[str, Step]:
        """Step name -> step, in the order the pipeline was given them."""

    @property
    def inputs(self) -> Mapping[str, list[str]]:
        """Step name -> the outputs of other steps it reads."""

    @property
    def params(self) -> Mapping[str, list[str]]:
        """Step name -> the parameters it takes from the context."""

    @property
    def producer(self) -> Mapping[str, str]:
        """Output name -> the step that makes it."""

    @property
    def upstream_of(self) -> Mapping[str, list[str]]:
        """Step name -> the steps whose outputs it reads (sorted)."""

    @property
    def downstream_of(self) -> Mapping[str, list[str]]:
        """Step name -> the steps that read its outputs."""

    @property
    def order(self) -> list[str]:
        """Every step in dependency order (alphabetical within a generation)."""

    @property
    def width(self) -> int:
        """The most steps that can run at once (the widest generation)."""

    @property
    def graph(self) -> nx.DiGraph:
        """The DAG as a networkx graph (imports networkx on first use)."""

    def upstream(self, step: str) -> list[str]:
        """The steps ``step`` reads from."""

    def check_params(self, context: Mapping[str, Any]) -> None:
        """Raise :class:`~flowy.kernel.errors.ParameterError` for a parameter nothing gives."""

    def context_for(self, overrides: Mapping[str, Any]) -> Context:
        """The run's context: ``overrides`` checked and applied, every value typed."""
