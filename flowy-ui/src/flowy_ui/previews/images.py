"""Images: recognised by their first bytes (never by a name or a recorded media type).

Only PNG, JPEG, GIF and WebP are shown (no SVG: it can carry script). With Pillow
installed the image is re-encoded as a PNG thumbnail of at most :data:`THUMBNAIL`
pixels a side; without it the bytes are served as they are, when they are no
larger than :data:`AS_IS_BYTES`.
"""

from __future__ import annotations

import importlib
import io
import struct
from typing import Any

THUMBNAIL = 512
AS_IS_BYTES = 4 << 20


def sniff(data: bytes) -> str | None:
    """The media type the bytes are, by their signature; None when not an image shown here."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def dimensions(data: bytes, media_type: str) -> tuple[int, int] | None:
    """(width, height) read from a PNG or GIF header; None for other formats."""
    if media_type == "image/png" and len(data) >= 24 and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if media_type == "image/gif" and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return int(width), int(height)
    return None


def _pillow() -> Any | None:
    try:
        return importlib.import_module("PIL.Image")
    except ImportError:
        return None


def thumbnail(data: bytes) -> tuple[bytes, str] | None:
    """What the image route serves: a PNG thumbnail (Pillow), or the bytes when small."""
    media_type = sniff(data)
    if media_type is None:
        return None
    image_module = _pillow()
    if image_module is not None:
        with image_module.open(io.BytesIO(data)) as opened:
            opened.thumbnail((THUMBNAIL, THUMBNAIL))
            shown = opened
            if opened.mode not in ("RGB", "RGBA", "L", "LA", "P"):
                shown = opened.convert("RGBA")
            out = io.BytesIO()
            shown.save(out, format="PNG")
        return out.getvalue(), "image/png"
    if len(data) > AS_IS_BYTES:
        return None
    return data, media_type


def preview(data: bytes, media_type: str, image_url: str) -> dict[str, Any]:
    """kind ``image`` with its size and the URL of the bytes; ``too_large`` when it cannot
    be served (no Pillow to shrink it, and larger than :data:`AS_IS_BYTES`)."""
    size = dimensions(data, media_type)
    if _pillow() is None and len(data) > AS_IS_BYTES:
        return {
            "kind": "too_large",
            "media_type": media_type,
            "limit": AS_IS_BYTES,
            "message": f"an image of {len(data)} bytes is shown only as a thumbnail, "
            "which needs Pillow (`pip install pillow`) on the server",
        }
    return {
        "kind": "image",
        "media_type": media_type,
        "width": size[0] if size else None,
        "height": size[1] if size else None,
        "image_url": image_url,
    }
