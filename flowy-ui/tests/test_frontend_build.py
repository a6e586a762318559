"""The shipped frontend (src/flowy_ui/static/) is the build of the source in frontend/.

The built files are committed, so ``pip install ./flowy-ui`` needs no Node. These tests
need no npm either: they recompute the source hash that ``npm run build`` wrote into
static/build-manifest.json (frontend/scripts/build-manifest.mjs computes the same) and
check the build's index.html against the server's Content-Security-Policy
(``default-src 'self'``: no inline script or style, nothing from another origin) and the
first-load JavaScript budget.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FRONTEND = ROOT / "frontend"
STATIC = ROOT / "src" / "flowy_ui" / "static"
MANIFEST = STATIC / "build-manifest.json"
REBUILD = (
    "run `nox -s ui_build` (npm ci, lint, test and build in flowy-ui/frontend) "
    "and commit flowy-ui/src/flowy_ui/static/"
)
#: First-load JavaScript, gzipped (issue 13).
JS_BUDGET = 400 * 1024
TOP_LEVEL_SOURCES = ("index.html", "package.json", "package-lock.json", "vite.config.ts")


def source_files() -> list[str]:
    """src/** plus the build's own configuration, as build-manifest.mjs lists them."""
    files = [
        path
        for path in (FRONTEND / "src").rglob("*")
        if path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(FRONTEND).parts)
    ]
    files += [
        path
        for path in FRONTEND.iterdir()
        if path.is_file()
        and (path.name in TOP_LEVEL_SOURCES or re.fullmatch(r"tsconfig.*\.json", path.name))
    ]
    return sorted(path.relative_to(FRONTEND).as_posix() for path in files)


def source_hash() -> str:
    digest = hashlib.sha256()
    for rel in source_files():
        data = (FRONTEND / rel).read_bytes()
        digest.update(rel.encode("utf-8") + b"\0" + str(len(data)).encode("ascii") + b"\0")
        digest.update(data)
    return digest.hexdigest()


def load_manifest() -> dict[str, object]:
    if not MANIFEST.is_file():
        pytest.fail(f"{MANIFEST.relative_to(ROOT.parent)} is missing: {REBUILD}")
    return json.loads(MANIFEST.read_text(encoding="utf-8"))


class _Page(HTMLParser):
    """The references, inline scripts and inline styles of an HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.refs: list[tuple[str, str, str]] = []  # (tag, attribute, value)
        self.scripts: list[dict[str, str | None]] = []
        self.inline_script = ""
        self.style_tags = 0
        self.style_attributes: list[str] = []
        self.event_handlers: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        for name, value in attrs:
            if name in ("src", "href") and value is not None:
                self.refs.append((tag, name, value))
            if name == "style":
                self.style_attributes.append(tag)
            if name.startswith("on"):
                self.event_handlers.append(f"{tag} {name}")
        if tag == "script":
            self.scripts.append(named)
            self._in_script = True
        if tag == "style":
            self.style_tags += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.inline_script += data.strip()


def parse_index() -> _Page:
    page = _Page()
    page.feed((STATIC / "index.html").read_text(encoding="utf-8"))
    return page


def local_file(url: str) -> Path:
    """The file under static/ that a same-origin, root-relative URL names."""
    path = url.split("?", 1)[0].split("#", 1)[0]
    assert path.startswith("/") and not path.startswith("//"), (
        f"index.html references {url!r}: only root-relative same-origin URLs are allowed "
        "(vite.config.ts: base '/')"
    )
    target = (STATIC / path.lstrip("/")).resolve()
    assert target.is_relative_to(STATIC.resolve()), f"{url!r} points outside static/"
    return target


def test_shipped_build_matches_the_frontend_source() -> None:
    manifest = load_manifest()
    assert manifest["source_sha256"] == source_hash(), (
        f"flowy-ui/frontend changed since the build in src/flowy_ui/static/ was made: {REBUILD}"
    )


def test_static_holds_exactly_the_built_files() -> None:
    manifest = load_manifest()
    recorded = manifest["files"]
    assert isinstance(recorded, dict)
    present = {
        path.relative_to(STATIC).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in STATIC.rglob("*")
        if path.is_file()
        and path != MANIFEST
        and not any(part.startswith(".") for part in path.relative_to(STATIC).parts)
    }
    assert sorted(present) == sorted(recorded), (
        f"static/ holds other files than the build made (missing or extra): {REBUILD}"
    )
    changed = sorted(name for name, digest in present.items() if recorded[name] != digest)
    assert not changed, f"built files were edited after the build ({changed}): {REBUILD}"


def test_index_html_references_only_shipped_files() -> None:
    page = parse_index()
    assert page.refs, "index.html references no script or stylesheet"
    for _tag, _attr, url in page.refs:
        assert local_file(url).is_file(), f"index.html references {url}, not in static/: {REBUILD}"


def test_index_html_needs_no_inline_script_or_style() -> None:
    """The server's CSP (default-src 'self') blocks inline code: the page must not need it."""
    page = parse_index()
    assert page.scripts, "index.html loads no script"
    for script in page.scripts:
        assert script.get("src"), f"inline <script> in index.html: {script}"
    assert page.inline_script == "", "index.html has inline script content"
    assert page.style_tags == 0, "index.html has a <style> element"
    assert page.style_attributes == [], f"style= attributes on {page.style_attributes}"
    assert page.event_handlers == [], f"inline event handlers: {page.event_handlers}"


def test_nothing_is_loaded_from_another_origin() -> None:
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", html, re.IGNORECASE), (
        "index.html names an external URL: the UI must work offline (no CDN, no web fonts)"
    )
    for css in STATIC.rglob("*.css"):
        text = css.read_text(encoding="utf-8")
        assert not re.search(r"url\(\s*['\"]?(?:https?:)?//", text), (
            f"{css.name} loads an external URL"
        )
        assert "@import" not in text, f"{css.name} imports another stylesheet"


def test_first_load_javascript_is_under_budget() -> None:
    page = parse_index()
    scripts = {
        local_file(url)
        for tag, _attr, url in page.refs
        if (tag == "script") or (tag == "link" and url.endswith(".js"))
    }
    assert scripts, "index.html loads no JavaScript file"
    size = sum(len(gzip.compress(path.read_bytes(), compresslevel=9)) for path in scripts)
    assert size < JS_BUDGET, (
        f"first-load JavaScript is {size / 1024:.0f} KiB gzipped, over the "
        f"{JS_BUDGET // 1024} KiB budget"
    )
