"""Stack files and component options, validated with pydantic.

A stack file is user configuration, so it goes through pydantic like the
settings do, and every error names the file, the stack and the field
(``artifact_store.bucket``). Two layers:

* :func:`parse_stack_data` checks the file's shape: an optional
  ``description`` string, and one table per component kind holding a
  non-empty ``type`` string, an optional ``provided_by`` distribution (written
  by ``flowy stack register`` so a stack whose plugin was uninstalled can say
  what to install), and the component's options.
* :func:`validate_options` checks a component's options against its class:
  the class's ``Options`` model when it declares one, otherwise a model built
  from its ``__init__`` signature, so an unknown option or a wrong type is
  caught when a stack is registered or switched to, not when a run starts.

pydantic is imported inside these functions only: reading settings or listing
plugins must not pay for it.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Mapping
from typing import Any

from flowy.kernel.errors import ConfigError

#: Keys of a component table that are not options of the component.
RESERVED_KEYS = ("type", "provided_by")


def _problems(exc: Any, prefix: str = "") -> str:
    """``field a.b: message; field c: message`` from a pydantic ValidationError."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in (*([prefix] if prefix else []), *err["loc"]))
        parts.append(f"field {loc or '?'}: {err['msg']}")
    return "; ".join(parts)


@functools.cache
def _file_model() -> Any:
    from pydantic import BaseModel, ConfigDict, Field

    class ComponentTable(BaseModel):
        model_config = ConfigDict(extra="allow")
        type: str = Field(min_length=1)
        provided_by: str | None = None

    class StackFile(BaseModel):
        model_config = ConfigDict(extra="allow")
        description: str = ""
        __pydantic_extra__: dict[str, ComponentTable]  # every other key is a component kind

    return StackFile


def parse_stack_data(
    data: Mapping[str, Any], where: str, name: str
) -> tuple[str, dict[str, dict[str, Any]]]:
    """The description and the component tables of a stack file, or a ConfigError.

    ``where`` names the file; the message also names the stack and the field.
    """
    from pydantic import ValidationError

    try:
        model = _file_model()(**data)
    except ValidationError as exc:
        raise ConfigError(
            f"{where}: stack {name!r}: {_problems(exc)}. Each component is a table such as "
            "[executor] with a string 'type' naming its implementation (see `flowy plugins`)."
        ) from exc
    components = {kind: dict(data[kind]) for kind in model.__pydantic_extra__ or {}}
    return model.description, components


def options_of(table: Mapping[str, Any]) -> dict[str, Any]:
    """A component table without its reserved keys: the options passed to the class."""
    return {k: v for k, v in table.items() if k not in RESERVED_KEYS}


@functools.cache
def _signature_model(cls: type) -> Any:
    """A pydantic model of ``cls.__init__``'s keyword parameters (None: nothing to check)."""
    from pydantic import ConfigDict, create_model

    init: Any = cls.__init__  # type: ignore[misc]
    if init is object.__init__:
        params: list[inspect.Parameter] = []
    else:
        try:
            params = list(inspect.signature(cls).parameters.values())
        except (TypeError, ValueError):
            return None
    try:
        hints = typing.get_type_hints(init)
    except Exception:  # noqa: BLE001 - annotations naming TYPE_CHECKING-only types
        hints = {}
    fields: dict[str, Any] = {}
    extra = "forbid"
    for p in params:
        if p.kind is p.VAR_KEYWORD:
            extra = "allow"
        elif p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            default = ... if p.default is p.empty else p.default
            fields[p.name] = (hints.get(p.name, Any), default)
    config = ConfigDict(extra=extra, arbitrary_types_allowed=True)  # type: ignore[typeddict-item]
    return create_model(f"{cls.__name__}Options", __config__=config, **fields)


def validate_options(
    cls: Any, options: Mapping[str, Any], where: str, kind: str, plugin: str = ""
) -> dict[str, Any]:
    """Options validated by ``cls.Options`` (or its signature); errors name ``kind.field``.

    ``plugin`` (distribution and version) is named when a plugin's own
    ``Options`` rejects a value by raising instead of through pydantic (an
    attrs class or a dataclass raising ``ValueError``): still the user's
    option at fault, not a Flowy bug.
    """
    from pydantic import ValidationError

    from flowy.kernel.redact import scrub, secret_values

    model = getattr(cls, "Options", None)
    if model is None and isinstance(cls, type):
        model = _signature_model(cls)
    if model is None:
        return dict(options)
    source = f" (from {plugin})" if plugin else ""
    try:
        validated = model(**options)
    except ValidationError as exc:
        problems = scrub(_problems(exc, kind), secret_values(dict(options)))
        raise ConfigError(f"{where}{source}: {problems}.") from exc
    except (ValueError, TypeError) as exc:
        detail = scrub(f"{type(exc).__name__}: {exc}", secret_values(dict(options)))
        raise ConfigError(
            f"{where}{source} rejected its options: {detail}. Fix the option in the stack file "
            f"or with `flowy stack update STACK --{kind.replace('_', '-')}-option KEY=VALUE`."
        ) from exc
    if getattr(cls, "Options", None) is not None:
        return dict(validated.model_dump())
    # Signature-derived: pass the caller's keys only, so the class's own defaults apply.
    return {k: getattr(validated, k, v) for k, v in options.items()}
