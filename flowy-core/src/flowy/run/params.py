"""Parameters: the type each step declares for one, checked and coerced before a run.

A step's signature is the only schema a parameter has: ``def train(lr: float)``
says ``lr`` is a float. When the pipeline is built, :func:`declared_types` reads the
annotations (without importing pydantic) and refuses two steps that annotate one
parameter with different types. When a run starts, :func:`coerce` validates the
run's values with pydantic's ``TypeAdapter`` (lax mode: ``"3"`` becomes ``3`` for
``int``), and :func:`from_text` turns command-line text into values: by the
annotation when there is one (``--param n=3`` is ``int`` 3, ``--param xs=[1,2]`` a
list), else as JSON when it parses, else the string (the historical parsing).
Unannotated parameters, ``Any`` and annotations that cannot be resolved are not
checked. pydantic is imported only when a run has an annotated parameter, so
``import flowy`` stays fast.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowy.kernel.errors import ParameterError, PipelineDefinitionError

if TYPE_CHECKING:
    from flowy.run.steps import Step

_UNCHECKED: tuple[Any, ...] = (inspect.Parameter.empty, Any, object)


def annotation_of(step: Step, param: str) -> Any | None:
    """The resolved annotation of ``param`` in ``step``'s signature, or None if unchecked.

    String annotations (``from __future__ import annotations``) are evaluated in the
    function's module; one that names something only imported for type checkers
    cannot be evaluated and is left unchecked rather than failing the pipeline.
    """
    ann = step.signature.parameters[param].annotation
    if isinstance(ann, str):
        fn = inspect.unwrap(step.fn)
        try:
            ann = eval(ann, dict(getattr(fn, "__globals__", {})))  # the user's own annotation
        except Exception:  # noqa: BLE001 - unresolvable: treated as unannotated
            return None
    if any(ann is u for u in _UNCHECKED):
        return None
    return ann


def declared_types(
    pipeline: str, steps: Mapping[str, Step], params: Mapping[str, list[str]]
) -> dict[str, tuple[Any, list[str]]]:
    """Parameter -> (its annotation, the steps that annotate it), for annotated parameters.

    Two steps annotating one parameter with different types is a
    :class:`PipelineDefinitionError`: no value could satisfy both for certain.
    """
    found: dict[str, tuple[Any, list[str]]] = {}
    for name, step in steps.items():
        for p in params[name]:
            ann = annotation_of(step, p)
            if ann is None:
                continue
            if p == step.map:  # a map over a parameter: the run gives a list of them
                ann = list[ann]  # type: ignore[valid-type]
            if p not in found:
                found[p] = (ann, [name])
            elif found[p][0] == ann:
                found[p][1].append(name)
            else:
                other = found[p][1][0]
                raise PipelineDefinitionError(
                    f"Pipeline {pipeline!r}: parameter {p!r} is annotated {type_name(found[p][0])} "
                    f"in step {other!r} but {type_name(ann)} in step {name!r}; one parameter has "
                    "one value, so give both steps the same annotation (or rename one parameter)."
                )
    return found


def type_name(ann: Any) -> str:
    """``int``, ``list[int]``, ``Literal['a', 'b']``: the annotation as a user wrote it."""
    if isinstance(ann, type) and not getattr(ann, "__args__", None):
        return ann.__qualname__
    return repr(ann).replace("typing.", "")


def _adapter(ann: Any) -> Any | None:
    """pydantic's validator for ``ann``; None when pydantic cannot check it (left unchecked)."""
    from pydantic import ConfigDict, TypeAdapter

    try:
        return TypeAdapter(ann)
    except Exception:  # noqa: BLE001 - a plain class: checked with isinstance
        try:
            return TypeAdapter(ann, config=ConfigDict(arbitrary_types_allowed=True))
        except Exception:  # noqa: BLE001 - a TypeVar, a Protocol...: not checked
            return None


def _failure(
    pipeline: str, param: str, ann: Any, *, steps: list[str], value: Any, exc: Exception
) -> ParameterError:
    from pydantic import ValidationError

    reason = str(exc)
    if isinstance(exc, ValidationError) and exc.errors():
        reason = exc.errors()[0]["msg"]
    which = f"step{'s' if len(steps) > 1 else ''} {', '.join(repr(s) for s in steps)}"
    return ParameterError(
        f"Parameter {param!r} of pipeline {pipeline!r} must be {type_name(ann)} (annotated in "
        f"{which}), got {value!r}: {reason}. Pass a value of type {type_name(ann)} "
        f"(--param {param}=VALUE), or change the annotation in {which}."
    )


def coerce(
    pipeline: str, declared: Mapping[str, tuple[Any, list[str]]], values: Mapping[str, Any]
) -> dict[str, Any]:
    """The annotated parameters among ``values``, validated and coerced to their type."""
    out: dict[str, Any] = {}
    for p, (ann, steps) in declared.items():
        adapter = _adapter(ann) if p in values else None
        if adapter is None:
            continue
        try:
            out[p] = adapter.validate_python(values[p])
        except Exception as exc:  # noqa: BLE001 - pydantic's ValidationError and friends
            raise _failure(pipeline, p, ann, steps=steps, value=values[p], exc=exc) from None
    return out


def from_text(
    pipeline: str, declared: Mapping[str, tuple[Any, list[str]]], raw: Mapping[str, str]
) -> dict[str, Any]:
    """Command-line text to values: by annotation when there is one, else JSON or text.

    ``"3"`` for ``int`` is 3 and for ``str`` stays ``"3"``; lists, dicts, ``null``
    for ``Optional`` and numeric ``Literal`` values are read as JSON text.
    """
    out: dict[str, Any] = {}
    for p, text in raw.items():
        ann, steps = declared.get(p, (None, []))
        adapter = _adapter(ann) if ann is not None else None
        if adapter is None:
            out[p] = _json_or_text(text)
            continue
        try:
            out[p] = adapter.validate_python(text)
            continue
        except Exception as exc:  # noqa: BLE001
            first: Exception = exc
        try:
            out[p] = adapter.validate_json(text)
        except Exception as exc:  # noqa: BLE001
            parses = _json_or_text(text) is not text
            why = exc if parses else first
            raise _failure(pipeline, p, ann, steps=steps, value=text, exc=why) from None
    return out


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def load_file(path: Path) -> dict[str, Any]:
    """Parameters from a ``.json``, ``.toml`` or ``.yaml``/``.yml`` file (a mapping at top)."""
    suffix = path.suffix.lower()
    if suffix not in (".json", ".toml", ".yaml", ".yml"):
        raise ParameterError(
            f"Parameter file {path} must end in .json, .toml, .yaml or .yml "
            f"(got {suffix or 'no extension'!r})."
        )
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ParameterError(
            f"Cannot read parameter file {path}: {exc.strerror or exc}. Check the path given "
            "to --params."
        ) from None
    try:
        if suffix == ".json":
            data = json.loads(text)
        elif suffix == ".toml":
            import tomllib

            data = tomllib.loads(text)
        elif suffix in (".yaml", ".yml"):
            try:
                import yaml  # type: ignore[import-untyped]
            except ImportError:
                raise ParameterError(
                    f"Reading {path} needs PyYAML, which is not installed: `pip install pyyaml`, "
                    "or write the parameters as .toml or .json."
                ) from None
            data = yaml.safe_load(text)
    except ParameterError:
        raise
    except Exception as exc:  # noqa: BLE001 - each parser has its own error class
        raise ParameterError(f"Parameter file {path} is not valid {suffix[1:]}: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise ParameterError(
            f"Parameter file {path} must hold a mapping of parameter names to values at its top "
            f"level (like `lr: 0.1`), not {type(data).__name__}."
        )
    return data
