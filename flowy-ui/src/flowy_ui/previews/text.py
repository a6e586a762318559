"""JSON values and text: the first :data:`TEXT_BYTES` of each, never more.

A JSON value is encoded piece by piece (``iterencode``) and the encoding stops
once enough text was made, so a huge list costs no more than its first 64 KiB.
Non-finite floats appear as ``NaN`` / ``Infinity`` inside the *text*; the
response itself stays strict JSON.
"""

from __future__ import annotations

import json
from typing import Any

TEXT_BYTES = 64 << 10
JSON_TYPES = (dict, list, tuple, set, frozenset, int, float, bool, type(None))


def _clip(text: str) -> tuple[str, bool]:
    """At most TEXT_BYTES of UTF-8, cut on a character boundary; and whether it was cut."""
    raw = text[: TEXT_BYTES + 1].encode("utf-8")
    if len(raw) <= TEXT_BYTES:
        return text[: TEXT_BYTES + 1], False
    return raw[:TEXT_BYTES].decode("utf-8", "ignore"), True


def _default(value: Any) -> Any:
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    return str(value)


def preview_json(value: Any) -> dict[str, Any]:
    """kind ``json``: the value pretty-printed, up to TEXT_BYTES."""
    encoder = json.JSONEncoder(indent=2, default=_default, ensure_ascii=False, sort_keys=False)
    parts: list[str] = []
    size = 0
    for chunk in encoder.iterencode(value):
        parts.append(chunk)
        size += len(chunk)
        if size > TEXT_BYTES:
            break
    text, cut = _clip("".join(parts))
    return {"kind": "json", "text": text, "truncated": cut, "length": _length(value)}


def _length(value: Any) -> int | None:
    try:
        return len(value)
    except TypeError:
        return None


def preview_text(value: str) -> dict[str, Any]:
    """kind ``text``: the first TEXT_BYTES of a string."""
    text, cut = _clip(value)
    return {"kind": "text", "text": text, "truncated": cut, "length": len(value)}


def preview_bytes(data: bytes) -> dict[str, Any]:
    """Bytes that are not an image: text when they are UTF-8, else kind ``none``."""
    head = data[: TEXT_BYTES + 4]
    try:
        decoded = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the head is still text.
        if exc.start < len(head) - 4 or b"\x00" in head:
            return {
                "kind": "none",
                "length": len(data),
                "message": f"binary data ({len(data)} bytes) that is not an image Flowy shows",
            }
        decoded = head[: exc.start].decode("utf-8")
    if "\x00" in decoded:
        return {"kind": "none", "length": len(data), "message": f"binary data ({len(data)} bytes)"}
    text, cut = _clip(decoded)
    return {"kind": "text", "text": text, "truncated": cut or len(data) > TEXT_BYTES,
            "length": len(data)}  # fmt: skip
