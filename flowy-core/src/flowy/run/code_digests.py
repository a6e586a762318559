"""Source digests of definitions, remembered across processes (``FLOWY_HOME/cache/code/``).

:func:`flowy.run.caching.code_hash` digests each step's normalized source (and that
of the user code it calls): parse the file, find the definition, dump its
syntax tree. A fresh ``flowy run`` would redo that for every step, although
the files rarely change between runs. So the digest of each definition taken
from a file's syntax tree is kept in one small JSON file per source file.

Such a digest is a pure function of the file's text, the definition's
qualified name and first line, the Python version (which fixes the syntax
tree's shape) and the normalization code itself. The stored key covers all of
them (a sha256 of the Python version, the source of :mod:`flowy.run.caching` and
of this module, and the file's full text), so a stored digest is used only for
the very text it was computed from: an edit, even one that keeps the file's
size and modification time, is a miss. A missing, unreadable or corrupt file
is a miss too, and a read-only home only costs the recomputation.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from functools import cache
from pathlib import Path

import attrs


@attrs.define
class _File:
    key: str
    path: Path
    digests: dict[str, str]
    dirty: bool = False


_files: dict[str, _File] = {}
_text_keys: dict[str, tuple[list[str], str]] = {}

#: The files whose text is the normalization code: flowy.run.caching (read as a file, not
#: imported: caching imports this module) and this module.
NORMALIZATION_SOURCES = (Path(__file__).with_name("caching.py"), Path(__file__))


@cache
def _code_key() -> str:
    """The Python version and the normalization code: a change to either is a change of key."""
    digest = hashlib.sha256(sys.version.encode())
    for module_file in NORMALIZATION_SOURCES:
        try:
            digest.update(module_file.read_bytes())
        except OSError:
            digest.update(os.urandom(16))  # unreadable: never match a stored key
    return digest.hexdigest()


def _text_key(filename: str, lines: list[str]) -> str:
    memo = _text_keys.get(filename)
    if memo is None or memo[0] is not lines:
        text = "".join(lines)
        key = hashlib.sha256(f"{_code_key()}\0{text}".encode()).hexdigest()
        memo = (lines, key)
        _text_keys[filename] = memo
    return memo[1]


def _load(filename: str, lines: list[str]) -> _File:
    key = _text_key(filename, lines)
    known = _files.get(filename)
    if known is not None and known.key == key:
        return known
    from flowy.kernel.config import user_home

    name = hashlib.sha256(filename.encode()).hexdigest()[:32]
    path = user_home() / "cache" / "code" / f"{name}.json"
    digests: dict[str, str] = {}
    try:
        data = json.loads(path.read_text())
        if data.get("key") == key and isinstance(data.get("digests"), dict):
            digests = {str(k): str(v) for k, v in data["digests"].items()}
    except (OSError, ValueError, AttributeError):
        pass
    known = _File(key, path, digests)
    _files[filename] = known
    return known


def recall(filename: str, lines: list[str], name: str) -> str | None:
    """The stored digest of definition ``name`` in this text of ``filename``, if any."""
    return _load(filename, lines).digests.get(name)


def remember(filename: str, lines: list[str], name: str, digest: str) -> None:
    """Keep ``digest`` for definition ``name`` of this text; :func:`save` writes it."""
    known = _load(filename, lines)
    if known.digests.get(name) != digest:
        known.digests[name] = digest
        known.dirty = True


def save() -> None:
    """Write the digests learnt since the last save (each file replaced atomically)."""
    for known in _files.values():
        if not known.dirty:
            continue
        known.dirty = False
        try:
            known.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = known.path.with_name(f".{known.path.name}.{os.getpid()}")
            tmp.write_text(json.dumps({"key": known.key, "digests": known.digests}))
            os.replace(tmp, known.path)
        except OSError:
            pass  # a read-only home only costs the recomputation next time
