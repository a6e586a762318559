"""How Flowy's records become W&B's: names, values, history rows. No wandb import here.

Kept apart from the tracker so that each rule (what a W&B project may be
called, how a metric series keeps its index) is one small, tested function.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

#: A Flowy run status -> the exit code W&B is told (0: finished; anything else: failed).
EXIT_CODES = {"completed": 0, "failed": 1, "cancelled": 130}
#: W&B rejects these in a project name; at most 128 characters.
_PROJECT_BAD = re.compile(r"[/\\#?%:\s]")
_MAX_PROJECT = 128
#: W&B artifact names: letters, digits, '-', '_' and '.'; at most 128 characters.
_ARTIFACT_BAD = re.compile(r"[^A-Za-z0-9_.-]")
_MAX_ARTIFACT = 128
#: W&B tags: at most 64 characters each.
_MAX_TAG = 64
#: The per-step x axis each step's metrics are plotted against: ``<step>/_step``, as W&B's
#: own run-wide axis is ``_step`` (a Flowy index restarts in every step, W&B's cannot).
INDEX = "_step"


def project_name(name: str) -> str:
    """``name`` as a W&B project: ``/ \\ # ? % :`` and spaces become ``-``, cut to 128."""
    cleaned = _PROJECT_BAD.sub("-", name.strip())[:_MAX_PROJECT]
    return cleaned or "flowy"


def artifact_name(pipeline: str, step: str) -> str:
    """``<pipeline>-<step>``, a valid W&B artifact name: each run's outputs of a step are
    versions of one W&B artifact. Too long a name keeps a digest of the whole."""
    name = _ARTIFACT_BAD.sub("_", f"{pipeline}-{step}")
    if len(name) <= _MAX_ARTIFACT:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:12]
    return f"{name[: _MAX_ARTIFACT - 13]}-{digest}"


def tag(text: str) -> str:
    """A W&B tag: at most 64 characters."""
    return text[:_MAX_TAG]


def config_value(value: Any) -> Any:
    """A parameter as W&B config keeps it: JSON values as they are, anything else as text."""
    try:
        json.dumps(value, allow_nan=True)
    except (TypeError, ValueError):
        return str(value)
    return value


def reference_uri(uri: str) -> str:
    """A Flowy artifact URI as a W&B reference: stores' URIs as they are (``s3://...``),
    the local store's absolute paths as ``file://`` URIs."""
    if "://" in uri:
        return uri
    return Path(uri).resolve().as_uri()


def suffix(uri: str) -> str:
    """The file extension of ``uri`` (``.json``), or ``""``."""
    tail = uri.rsplit("/", 1)[-1]
    return "." + tail.rsplit(".", 1)[1] if "." in tail else ""


def metric_rows(step: str, metrics: Iterable[Any]) -> Iterator[dict[str, Any]]:
    """W&B history rows for one step's metrics, in the order they were logged.

    Each value goes under ``<step>/<name>`` with its Flowy index under
    ``<step>/_step``; values logged one after another at the same index share a
    row (one ``run.log`` call). A value logged without an index gets its
    position among that name's values (0 for a single value), so a series
    logged without indices still keeps its order.
    """
    axis = f"{step}/{INDEX}"
    seen: dict[str, int] = {}
    row: dict[str, Any] = {}
    for metric in metrics:
        index = metric.step if metric.step is not None else seen.get(metric.name, 0)
        seen[metric.name] = seen.get(metric.name, 0) + 1
        key = f"{step}/{metric.name}"
        if row and (row[axis] != index or key in row):
            yield row
            row = {}
        if not row:
            row[axis] = index
        row[key] = float(metric.value)  # NaN and infinities included: W&B keeps them
    if row:
        yield row
