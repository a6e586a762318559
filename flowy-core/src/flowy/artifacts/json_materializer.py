"""JSON for Python builtins, exact on the way back.

Plain JSON cannot tell a tuple from a list, has no sets or bytes, and turns
non-string keys into strings. Values that need it are written as tagged
objects (``{"__flowy__": "tuple", "v": [...]}``); values that do not are
written as plain JSON, so most artifacts stay readable by any tool.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any, BinaryIO

from flowy.kernel.contracts import Materializer

TAG = "__flowy__"
_PLAIN = (str, int, float, bool, type(None))


def _needs_tags(value: Any) -> bool:
    if isinstance(value, _PLAIN):
        return False
    if type(value) is list:
        return any(_needs_tags(v) for v in value)
    if type(value) is dict:
        return TAG in value or any(
            not isinstance(k, str) or _needs_tags(v) for k, v in value.items()
        )
    return True


def _encode(value: Any) -> Any:
    if isinstance(value, _PLAIN):
        return value
    if type(value) is list:
        return [_encode(v) for v in value]
    if isinstance(value, tuple):
        return {TAG: "tuple", "v": [_encode(v) for v in value]}
    if isinstance(value, set | frozenset):
        return {TAG: type(value).__name__, "v": [_encode(v) for v in value]}
    if isinstance(value, bytes):
        return {TAG: "bytes", "v": base64.b64encode(value).decode()}
    if isinstance(value, dict):
        if TAG not in value and all(isinstance(k, str) for k in value):
            return {k: _encode(v) for k, v in value.items()}
        return {TAG: "dict", "v": [[_encode(k), _encode(v)] for k, v in value.items()]}
    raise TypeError(
        f"the JSON materializer cannot store a {type(value).__name__} inside a builtin container"
    )


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        tag = value.get(TAG)
        if tag is None:
            return {k: _decode(v) for k, v in value.items()}
        inner = value["v"]
        if tag == "tuple":
            return tuple(_decode(v) for v in inner)
        if tag == "set":
            return {_decode(v) for v in inner}
        if tag == "frozenset":
            return frozenset(_decode(v) for v in inner)
        if tag == "bytes":
            return base64.b64decode(inner)
        if tag == "dict":
            return {_decode(k): _decode(v) for k, v in inner}
        raise ValueError(f"unknown JSON artifact tag {tag!r}")
    return value


class JsonMaterializer(Materializer):
    """Builtins (dict, list, tuple, set, str, numbers, bool, None, bytes) as JSON."""

    name = "json"
    version = "1"
    extension = ".json"

    def accepts(self, obj: Any) -> bool:
        if not _needs_tags(obj):
            return True
        try:
            _encode(obj)
        except TypeError:
            return False
        return True

    def save(self, obj: Any, file: BinaryIO) -> dict[str, Any]:
        payload = _encode(obj) if _needs_tags(obj) else obj
        file.write(json.dumps(payload, separators=(",", ":")).encode())
        meta: dict[str, Any] = {"python_type": type(obj).__name__}
        if isinstance(obj, Mapping | list | tuple | set | frozenset):
            meta["length"] = len(obj)
        elif isinstance(obj, int | float) and not isinstance(obj, bool):
            meta["value"] = obj
        return meta

    def load(self, file: BinaryIO, metadata: Mapping[str, Any]) -> Any:
        return _decode(json.loads(file.read()))
