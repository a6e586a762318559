"""Context: the parameters of a pipeline, injected into steps by signature."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any


class Context(Mapping[str, Any]):
    """Named parameters with attribute and item access.

    ``child(**overrides)`` makes a context that sees its parent's values unless
    it overrides them, so a sweep can share a base configuration. A step
    receives a parameter when its signature names it (see
    :class:`flowy.run.steps.Step`).
    """

    __slots__ = ("_parent", "_values")

    def __init__(self, _parent: Context | None = None, /, **params: Any) -> None:
        object.__setattr__(self, "_values", dict(params))
        object.__setattr__(self, "_parent", _parent)

    def child(self, **overrides: Any) -> Context:
        """A new context inheriting every value of this one, with ``overrides`` on top."""
        return Context(self, **overrides)

    def to_dict(self) -> dict[str, Any]:
        """Every visible value, parents' first, overrides last."""
        base = self._parent.to_dict() if self._parent is not None else {}
        base.update(self._values)
        return base

    def __getitem__(self, key: str) -> Any:
        if key in self._values:
            return self._values[key]
        if self._parent is not None:
            return self._parent[key]
        raise KeyError(key)

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            known = ", ".join(sorted(self.to_dict())) or "none"
            raise AttributeError(f"Context has no parameter {key!r} (known: {known})") from None

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError("Context is read-only; use child(**overrides) to change values")

    def __contains__(self, key: object) -> bool:
        return key in self._values or (self._parent is not None and key in self._parent)

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_dict())

    def __len__(self) -> int:
        return len(self.to_dict())

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items())
        return f"Context({inner})"

    def __reduce__(self) -> Any:
        return (_rebuild, (self.to_dict(),))


def _rebuild(values: dict[str, Any]) -> Context:
    return Context(**values)
