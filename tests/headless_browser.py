"""Headless Chromium for tests: the DOM after load, and a screenshot's pixels.

Chromium runs from the Debian package (``apt-get install chromium``) with a
fresh profile, no sandbox (CI runs as root) and every kind of networking it
does on its own switched off. Name resolution is mapped to nowhere and a dead
proxy is set, so a page that tried to fetch anything from the network would
render without it: what the tests see is what a reader without a connection
sees. Screenshots are decoded here (zlib and the five PNG filters), so no
imaging library is needed.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=127.0.0.1:9",
]


def chromium_binary() -> str:
    """The Chromium binary (CHROMIUM, else chromium on PATH); fails the test when absent."""
    for candidate in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser"):
        if candidate and shutil.which(candidate):
            return str(shutil.which(candidate))
    pytest.fail(
        "Chromium is not installed: `apt-get install -y chromium` "
        "(`nox -s tests` does, through scripts/install-system-packages.sh)"
    )


def _run(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [chromium, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def dump_dom(chromium: str, url: str, tmp: Path) -> str:
    """The serialized DOM once the page has loaded."""
    return _run(chromium, tmp / "profile-dom", "--dump-dom", url).stdout


def screenshot(
    chromium: str, url: str, tmp: Path, size: tuple[int, int] = (1000, 800)
) -> list[list[tuple[int, int, int]]]:
    """A screenshot of ``url`` as rows of RGB pixels."""
    target = tmp / "screenshot.png"
    _run(
        chromium,
        tmp / "profile-shot",
        f"--window-size={size[0]},{size[1]}",
        f"--screenshot={target}",
        url,
    )
    return decode_png(target.read_bytes())


def count_colour(pixels: list[list[tuple[int, int, int]]], rgb: tuple[int, int, int]) -> int:
    """Pixels within a small tolerance of ``rgb`` (anti-aliasing blends edges)."""
    r0, g0, b0 = rgb
    return sum(
        1
        for row in pixels
        for r, g, b in row
        if abs(r - r0) <= 12 and abs(g - g0) <= 12 and abs(b - b0) <= 12
    )


def decode_png(data: bytes) -> list[list[tuple[int, int, int]]]:
    """8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes) to RGB rows."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    width = height = channels = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and interlace == 0 and colour in (2, 6), (depth, colour, interlace)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    raw = zlib.decompress(idat)
    stride = width * channels
    previous = bytearray(stride)
    rows = []
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        _unfilter(kind, line, previous, channels)
        rows.append([tuple(line[x : x + 3]) for x in range(0, stride, channels)])
        previous = line
    return rows  # type: ignore[return-value]


def _unfilter(kind: int, line: bytearray, prev: bytearray, bpp: int) -> None:
    n = len(line)
    if kind == 1:
        for i in range(bpp, n):
            line[i] = (line[i] + line[i - bpp]) & 0xFF
    elif kind == 2:
        for i in range(n):
            line[i] = (line[i] + prev[i]) & 0xFF
    elif kind == 3:
        for i in range(n):
            left = line[i - bpp] if i >= bpp else 0
            line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
    elif kind == 4:
        for i in range(n):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            line[i] = (line[i] + pred) & 0xFF
