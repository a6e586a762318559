"""What a sweep runs: grid axes and random ranges, parsed, checked and expanded to combinations.

A sweep is a list of *combinations* (parameter name -> value), one run each. It
comes from grid axes (every value of every axis with every other: ``alpha=0.01,0.1``)
and random ranges, drawn ``samples`` times (``alpha=log:1e-4..1e-1``), or both (then
every grid point gets ``samples`` draws). The text forms are those of
``flowy run --sweep``:

=========================  ==============================================
``NAME=V1,V2,...``          a grid axis (each value read as ``--param`` reads it)
``NAME=[JSON, ...]``        a grid axis written as a JSON list (values with commas)
``NAME=LO..HI``             uniform real in [LO, HI] (random sweeps)
``NAME=log:LO..HI``         log-uniform real, 0 < LO < HI (learning rates)
``NAME=int:LO..HI``         uniform integer, LO and HI included
``NAME=choice:V1,V2,...``   one of the values, uniformly (random sweeps)
=========================  ==============================================

A sweep file (JSON, TOML or YAML) says the same with keys ``grid`` (name -> list),
``random`` (name -> range text or list of choices), ``samples`` and ``seed``.
Every combination is checked against the pipeline (:meth:`Pipeline.context_for`:
names known, values coerced by the steps' annotations) before anything runs.
"""

from __future__ import annotations

import itertools
import json
import math
import random as random_mod
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import attrs

from flowy.kernel.errors import ParameterError
from flowy.run import params as params_mod
from flowy.run.graph import PipelineGraph

#: The most runs one sweep may have: beyond it a typo (``int:1..100000``) is likelier than intent.
MAX_RUNS = 1000

#: The run parameter that names the sweep a run belongs to (recorded in each run's params).
SWEEP_PARAM = "flowy_sweep"

_RANGE = re.compile(r"^(?:(?P<kind>log|int|uniform):)?(?P<lo>[^.]\S*?)\.\.(?P<hi>\S+)$")


class Sweepable(PipelineGraph, Protocol):
    """A pipeline as a sweep reads it (``Pipeline`` satisfies it; this module never imports
    the class, which imports this module's users: no cycle)."""

    @property
    def known_params(self) -> set[str]:
        """Every parameter name a run may set."""

    @property
    def annotations(self) -> dict[str, tuple[Any, list[str]]]:
        """Parameter -> (its annotation, the steps annotating it)."""


@attrs.frozen
class Range:
    """A random range: ``uniform``, ``log`` or ``int`` between ``lo`` and ``hi``, or ``choice``."""

    kind: str
    lo: float = 0.0
    hi: float = 0.0
    choices: tuple[Any, ...] = ()

    def draw(self, rng: random_mod.Random) -> Any:
        if self.kind == "choice":
            return self.choices[rng.randrange(len(self.choices))]
        if self.kind == "int":
            return rng.randint(int(self.lo), int(self.hi))
        if self.kind == "log":
            return math.exp(rng.uniform(math.log(self.lo), math.log(self.hi)))
        return rng.uniform(self.lo, self.hi)

    def __str__(self) -> str:
        if self.kind == "choice":
            return "choice:" + ",".join(map(str, self.choices))
        return f"{self.kind}:{self.lo:g}..{self.hi:g}"


@attrs.frozen
class SweepSpec:
    """Grid axes, random ranges, how many draws and the seed; :meth:`combinations` expands it."""

    grid: dict[str, list[Any]] = attrs.field(factory=dict)
    random: dict[str, Range] = attrs.field(factory=dict)
    samples: int | None = None
    seed: int | None = None

    @property
    def names(self) -> list[str]:
        return [*self.grid, *self.random]

    def size(self) -> int:
        points = math.prod(len(v) for v in self.grid.values())
        return points * (self.samples or 1)

    def combinations(self) -> list[dict[str, Any]]:
        """Every run's swept values, grid order first (the last axis varies fastest)."""
        rng = random_mod.Random(self.seed)
        axes = list(self.grid)
        out = []
        for point in itertools.product(*(self.grid[a] for a in axes)):
            base = dict(zip(axes, point, strict=True))
            for _ in range(self.samples or 1):
                drawn = {n: r.draw(rng) for n, r in self.random.items()}
                out.append({**base, **drawn})
        return out


def parse_range(name: str, text: str) -> Range | None:
    """``text`` as a random range (see the module table), or None when it is not one."""
    if text.startswith("choice:"):
        values = _split_values(name, text[len("choice:") :])
        return Range("choice", choices=tuple(values))
    match = _RANGE.match(text.strip())
    if match is None:
        if re.match(r"^(log|int|uniform):", text):
            raise ParameterError(
                f"Sweep range {name}={text!r} is not LO..HI; write e.g. {name}=log:1e-4..1e-1 "
                f"or {name}=int:2..8."
            )
        return None
    kind = match["kind"] or "uniform"
    try:
        lo, hi = float(match["lo"]), float(match["hi"])
    except ValueError:
        raise ParameterError(
            f"Sweep range {name}={text!r}: {match['lo']!r} and {match['hi']!r} must be numbers "
            f"(e.g. {name}=0.1..1)."
        ) from None
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo >= hi:
        raise ParameterError(
            f"Sweep range {name}={text!r} is empty or backwards: LO must be below HI "
            f"(e.g. {name}={kind}:{min(lo, hi):g}..{max(lo, hi):g})."
        )
    if kind == "log" and lo <= 0:
        raise ParameterError(
            f"Sweep range {name}={text!r}: a log range needs 0 < LO (got {lo:g}); use a "
            f"linear range ({name}={lo:g}..{hi:g}) for values at or below 0."
        )
    if kind == "int" and not (lo.is_integer() and hi.is_integer()):
        raise ParameterError(
            f"Sweep range {name}={text!r}: an int range needs whole numbers (e.g. {name}=int:2..8)."
        )
    return Range(kind, lo, hi)


def _split_values(name: str, text: str) -> list[Any]:
    """``a,b,c`` (each kept as text) or a JSON list ``[..]`` (values as JSON gives them)."""
    text = text.strip()
    if text.startswith("["):
        try:
            values = json.loads(text)
        except ValueError as exc:
            raise ParameterError(f"Sweep {name}={text!r} is not a valid JSON list: {exc}") from None
        if not isinstance(values, list):
            raise ParameterError(f"Sweep {name}={text!r} must be a JSON list.")
    else:
        values = [v.strip() for v in text.split(",")] if text else []
        if any(v == "" for v in values):
            raise ParameterError(
                f"Sweep {name}={text!r} has an empty value; list values separated by commas, "
                f"like {name}=0.01,0.1,1."
            )
    if not values:
        raise ParameterError(f"Sweep {name} has no values; give at least one ({name}=V1,V2).")
    _no_duplicates(name, values)
    return values


def _no_duplicates(name: str, values: list[Any]) -> None:
    seen: list[Any] = []
    for v in values:
        if v in seen:
            raise ParameterError(f"Sweep {name} lists {v!r} twice; list each value once.")
        seen.append(v)


def from_cli(
    items: Sequence[str],
    samples: int | None = None,
    seed: int | None = None,
    base: SweepSpec | None = None,
) -> SweepSpec:
    """``--sweep NAME=...`` items (and ``--sweep-random N``, ``--seed``) as a spec, added to
    ``base`` (a ``--sweep-file``'s) when given; the command line's samples and seed win."""
    grid: dict[str, list[Any]] = dict(base.grid) if base else {}
    ranges: dict[str, Range] = dict(base.random) if base else {}
    from_file = set(grid) | set(ranges)
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ParameterError(
                f"--sweep {item!r} must be NAME=VALUES, like alpha=0.01,0.1,1 or "
                "alpha=log:1e-4..1e-1."
            )
        if name in from_file:
            raise ParameterError(
                f"--sweep {name} is also in the sweep file; sweep it in one place only."
            )
        if name in grid or name in ranges:
            raise ParameterError(f"--sweep names {name!r} twice; give its values in one --sweep.")
        rng = parse_range(name, text)
        if rng is not None:
            ranges[name] = rng
        else:
            grid[name] = _split_values(name, text)
    samples = samples if samples is not None else (base.samples if base else None)
    seed = seed if seed is not None else (base.seed if base else None)
    return _checked(SweepSpec(grid, ranges, samples, seed), "--sweep-random")


def from_mapping(data: Mapping[str, Any], where: str, *, check: bool = True) -> SweepSpec:
    """A sweep file's contents (or ``Pipeline.sweep``'s arguments) as a spec."""
    unknown = sorted(set(data) - {"grid", "random", "samples", "seed"})
    if unknown:
        raise ParameterError(
            f"{where}: unknown key(s) {', '.join(unknown)}; a sweep has grid, random, samples "
            "and seed."
        )
    grid_in, random_in = data.get("grid") or {}, data.get("random") or {}
    if not isinstance(grid_in, Mapping) or not isinstance(random_in, Mapping):
        raise ParameterError(f"{where}: grid and random must map parameter names to values.")
    grid: dict[str, list[Any]] = {}
    for name, given in grid_in.items():
        values = _split_values(name, given) if isinstance(given, str) else given
        if not isinstance(values, (list, tuple)) or not values:
            raise ParameterError(
                f"{where}: grid {name!r} must be a non-empty list of values (like [0.01, 0.1])."
            )
        _no_duplicates(name, list(values))
        grid[str(name)] = list(values)
    ranges: dict[str, Range] = {}
    for name, spec in random_in.items():
        if name in grid:
            raise ParameterError(f"{where}: {name!r} is both a grid axis and a random range.")
        if isinstance(spec, (list, tuple)):
            if not spec:
                raise ParameterError(f"{where}: random {name!r} has no choices.")
            ranges[str(name)] = Range("choice", choices=tuple(spec))
            continue
        rng = parse_range(name, str(spec))
        if rng is None:
            raise ParameterError(
                f"{where}: random {name!r} = {spec!r} is not a range; write LO..HI, "
                "log:LO..HI, int:LO..HI or a list of choices."
            )
        ranges[str(name)] = rng
    samples, seed = data.get("samples"), data.get("seed")
    for key, value in (("samples", samples), ("seed", seed)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ParameterError(f"{where}: {key} must be a whole number, not {value!r}.")
    spec = SweepSpec(grid, ranges, samples, seed)
    return _checked(spec, "samples") if check else spec


def load_file(path: Path, *, check: bool = True) -> SweepSpec:
    """A sweep file: ``grid``/``random``/``samples``/``seed`` in JSON, TOML or YAML.

    ``check=False`` leaves the whole-sweep checks to :func:`from_cli`, which adds
    the command line's ``--sweep`` items (and ``--sweep-random``) to it.
    """
    try:
        data = params_mod.load_file(path)
    except ParameterError as exc:
        raise ParameterError(
            str(exc).replace("Parameter file", "Sweep file").replace("--params", "--sweep-file")
        ) from None
    return from_mapping(data, f"Sweep file {path}", check=check)


def _checked(spec: SweepSpec, samples_flag: str) -> SweepSpec:
    if spec.samples is not None and spec.samples < 1:
        raise ParameterError(f"{samples_flag} must be at least 1 (got {spec.samples}).")
    if spec.random and spec.samples is None:
        shown = ", ".join(f"{n}={r}" for n, r in spec.random.items())
        raise ParameterError(
            f"Random ranges ({shown}) need a number of draws: add {samples_flag} N "
            "(or list values, like alpha=0.01,0.1, for a grid)."
        )
    if spec.samples is not None and not spec.random:
        raise ParameterError(
            f"{samples_flag} {spec.samples} has no range to draw from: sweep a parameter over "
            "a range, like alpha=log:1e-4..1e-1 or depth=int:2..8."
        )
    if not spec.names:
        raise ParameterError("The sweep names no parameter; sweep one, like alpha=0.01,0.1,1.")
    if spec.random and spec.seed is None:  # chosen now, so that it can be shown and reused
        spec = attrs.evolve(spec, seed=random_mod.SystemRandom().randrange(2**31))
    if spec.size() > MAX_RUNS:
        raise ParameterError(
            f"The sweep would start {spec.size()} runs, more than {MAX_RUNS}; sweep fewer "
            "values, or draw a sample of the space with a random sweep."
        )
    return spec


def resolve(
    pipeline: Sweepable,
    spec: SweepSpec,
    fixed: Mapping[str, Any],
    *,
    from_text: bool,
    fixed_from_cli: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Each combination's parameters (swept values with ``fixed``), checked and coerced.

    Swept text values (``--sweep``) are read as ``--param`` reads them; every
    combination then goes through :meth:`Pipeline.context_for`, so an unknown
    name or a value that does not fit an annotation fails here, before any run.
    """
    known = pipeline.known_params
    unknown = [n for n in spec.names if n not in known]
    if unknown:
        pipeline.context_for(dict.fromkeys(unknown))  # its error names the nearest known ones
    both = [n for n in spec.names if n in fixed_from_cli]
    if both:
        raise ParameterError(
            f"{', '.join(both)} is both swept and set with --param; drop one of the two."
        )
    if SWEEP_PARAM in known:
        raise ParameterError(
            f"Pipeline {pipeline.name!r} has a parameter named {SWEEP_PARAM!r}, which sweeps use "
            "to record the sweep of each run; rename it to sweep this pipeline."
        )
    out = []
    for combo in spec.combinations():
        if from_text:
            text = {k: v for k, v in combo.items() if isinstance(v, str)}
            read = params_mod.from_text(pipeline.name, pipeline.annotations, text)
        values = {**fixed, **combo, **(read if from_text else {})}
        context = pipeline.context_for(values)  # raises for a bad name or value
        out.append({k: context[k] for k in values})
    return out
