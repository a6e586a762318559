"""What an artifact layer needs to know about assets: the base class and its record.

A step may return its value wrapped in an asset (``Dataset``, ``Model``, ... in
:mod:`flowy.tracking.assets`, or a type a plugin adds). Writing an artifact
unwraps it and stores :meth:`Asset.describe` under :data:`ASSET_KEY` in the
artifact's metadata; reading rebuilds the asset around the loaded value. Both
happen in :mod:`flowy.artifacts.store_io`, which sits below tracking, so the
contract it relies on lives here in the kernel:

* :class:`Asset`: ``value`` plus ``name``, ``tags`` and ``properties``; each
  subclass says what it is (``asset_type``) and derives its own facts
  (:meth:`Asset.fields`), so describing one needs no knowledge of the subclass;
* :func:`rebuild`: an asset of a given class around a loaded value, from its
  recorded description;
* :class:`RecordedAsset`: what an artifact comes back as when no installed
  plugin registers its asset type (the plugin that did was uninstalled): the
  recorded type and facts are kept, so passing it on to another step records
  the same description again instead of losing it.

The asset types themselves are registered through the
``flowy_register_asset_types`` hook (the built-in ones by
:mod:`flowy.tracking.plugin`), as a plugin would register its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import attrs

#: Key of the asset description inside an artifact's metadata.
ASSET_KEY = "flowy_asset"
#: Asset type of artifacts written from plain objects.
PLAIN = "artifact"


def _tags(value: str | Iterable[Any]) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [str(t) for t in value]


def jsonable(values: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON round trip: what the store will hand back, so records compare equal."""
    out: dict[str, Any] = json.loads(json.dumps(dict(values), default=str))
    return out


@attrs.define
class Asset:
    """Base of every asset: a value plus a name, tags and free-form properties.

    A subclass sets ``asset_type`` (the name it is registered under with the
    ``flowy_register_asset_types`` hook) and overrides :meth:`fields` with the
    facts it records about its value; it must stay an attrs class so that a
    loaded artifact can be rebuilt with the fields it was given.
    """

    asset_type: ClassVar[str] = PLAIN

    value: Any
    name: str | None = attrs.field(default=None, kw_only=True)
    tags: list[str] = attrs.field(factory=list, converter=_tags, kw_only=True)
    properties: dict[str, Any] = attrs.field(factory=dict, kw_only=True)

    def fields(self) -> dict[str, Any]:
        """This type's own fields, given or derived from the value (recorded and searchable)."""
        return {}

    def describe(self) -> dict[str, Any]:
        """The JSON-compatible description stored in the artifact's metadata."""
        return {
            "type": self.asset_type,
            "name": self.name,
            "tags": list(self.tags),
            "properties": jsonable(self.properties),
            "fields": jsonable(self.fields()),
        }


@attrs.define
class RecordedAsset(Asset):
    """An asset whose type no installed plugin registers, kept as it was recorded.

    ``recorded_type`` and ``recorded_fields`` are the type and facts of the
    description it was loaded from; :meth:`describe` returns them again, so a
    step that passes it on does not turn it into a plain artifact.
    """

    recorded_type: str = attrs.field(default=PLAIN, kw_only=True)
    recorded_fields: dict[str, Any] = attrs.field(factory=dict, kw_only=True)

    def fields(self) -> dict[str, Any]:
        return dict(self.recorded_fields)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "type": self.recorded_type}


#: The fields every asset has; a recorded description keeps them outside ``fields``.
_BASE_FIELDS = frozenset({"value", "name", "tags", "properties"})


def rebuild(cls: type[Asset], value: Any, description: Mapping[str, Any]) -> Asset:
    """An asset of ``cls`` around ``value``, with the name, tags and properties recorded.

    Of the recorded facts only those ``cls`` takes as fields are passed back:
    derived facts are derived again from the value, and a fact a newer version of
    the type recorded (a field this one lacks) is left out rather than refused.
    """
    known = {f.name for f in attrs.fields(cls)} - _BASE_FIELDS if attrs.has(cls) else set()
    given = {k: v for k, v in dict(description.get("fields") or {}).items() if k in known}
    return cls(
        value,
        name=description.get("name"),
        tags=list(description.get("tags") or []),
        properties=dict(description.get("properties") or {}),
        **given,
    )


def recorded(value: Any, description: Mapping[str, Any]) -> RecordedAsset:
    """An asset of a type nobody registers: :class:`RecordedAsset` keeping its description."""
    return RecordedAsset(
        value,
        name=description.get("name"),
        tags=list(description.get("tags") or []),
        properties=dict(description.get("properties") or {}),
        recorded_type=str(description.get("type") or PLAIN),
        recorded_fields=dict(description.get("fields") or {}),
    )
