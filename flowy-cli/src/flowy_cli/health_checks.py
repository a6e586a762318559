"""The checks of ``flowy doctor`` on the stack's stores: reachable, writable, current, roomy.

Each check returns :class:`Check` records (never raises): a status (``ok``, ``warn``
or ``fail``), what was found, and what to do about it. ``fail`` means the stack cannot
work as it is (``flowy doctor`` exits 1); ``warn`` means it works but needs attention.
The checks of what runs on the stack (runs, breakers, the scheduler, plugins) are in
:mod:`flowy_cli.health_ops`.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable
from typing import Any

import attrs

OK, WARN, FAIL = "ok", "warn", "fail"
#: Warn when a store's file system has less free space than this (``--min-free``).
DEFAULT_MIN_FREE = 1 << 30


@attrs.define
class Check:
    """One line of the doctor's report."""

    name: str
    status: str
    detail: str
    fix: str = ""


def guarded(name: str, check: Callable[[], list[Check]], fix: str) -> list[Check]:
    """``check()``, or one ``fail`` naming the error it raised (a check never stops the rest)."""
    try:
        return check()
    except Exception as exc:  # noqa: BLE001 - a broken component is a finding, not a crash
        return [Check(name, FAIL, f"{type(exc).__name__}: {exc}", fix)]


def metadata_store(client: Any) -> tuple[Any | None, list[Check]]:
    """Open the stack's metadata store and query it; (the store or None, its checks)."""
    try:
        store = client.store
        store.list_runs(limit=1)
    except Exception as exc:  # noqa: BLE001 - reported
        text = f"{type(exc).__name__}: {exc}"
        checks = [
            Check(
                "metadata store", FAIL, text,
                "Check the stack's metadata_store settings (`flowy stack describe`) and that "
                "the database is reachable.",
            )
        ]  # fmt: skip
        if "revision" in str(exc):
            checks.append(
                Check(
                    "schema", FAIL, "the database's schema revision is not one this Flowy "
                    "can use (see the metadata store line)",
                    "Upgrade Flowy (`pip install -U flowy-store-sqlite`) to the version that "
                    "wrote the database, or point the stack at another database.",
                )
            )  # fmt: skip
        return None, checks
    described = _describe(store)
    where = described.get("url") or type(store).__name__
    return store, [Check("metadata store", OK, f"{where}: reachable, queried")]


def schema(store: Any) -> list[Check]:
    """The schema revision the store reports against the head this Flowy knows."""
    status = getattr(store, "schema_status", None)
    if status is None:
        return [Check("schema", OK, f"{type(store).__name__} reports no schema revision")]
    revision, head = status()  # an error is reported by guarded()
    if revision is None and head is None:
        return [Check("schema", OK, f"{type(store).__name__} reports no schema revision")]
    if revision == head:
        return [Check("schema", OK, f"at revision {revision} (current)")]
    return [
        Check(
            "schema", FAIL, f"at revision {revision!r}, this Flowy's is {head!r}",
            "Open the store with this Flowy to migrate it (any `flowy runs list` does), or "
            "upgrade Flowy if the database is newer.",
        )
    ]  # fmt: skip


def artifact_store(client: Any) -> tuple[Any | None, list[Check]]:
    """Write, read back and delete a probe object in the stack's artifact store."""
    fix = (
        "Check the artifact store's path or bucket (`flowy stack describe`), its "
        "permissions and credentials."
    )
    try:
        store = client.artifact_store
    except Exception as exc:  # noqa: BLE001 - reported
        return None, [Check("artifact store", FAIL, f"{type(exc).__name__}: {exc}", fix)]
    payload = uuid.uuid4().hex.encode()
    uri = store.uri_for(f"doctor-probe-{uuid.uuid4().hex}.probe")
    try:
        with store.open_write(uri) as handle:
            handle.write(payload)
        with store.open_read(uri) as handle:
            back = handle.read()
        store.delete(uri)
    except Exception as exc:  # noqa: BLE001 - reported
        return store, [
            Check("artifact store", FAIL, f"cannot write a probe at {uri}: "
                  f"{type(exc).__name__}: {exc}", fix)
        ]  # fmt: skip
    if back != payload:
        return store, [
            Check("artifact store", FAIL, f"read back other bytes than written at {uri}", fix)
        ]
    where = _describe(store).get("path") or type(store).__name__
    return store, [Check("artifact store", OK, f"{where}: wrote, read and deleted a probe")]


def disk(metadata: Any | None, artifacts: Any | None, min_free: int) -> list[Check]:
    """Free space on the file systems holding the metadata database and the artifacts."""
    places: dict[str, str] = {}
    url = str(_describe(metadata).get("url") or "") if metadata is not None else ""
    if url.startswith("sqlite:///"):
        places["metadata database"] = os.path.dirname(url.removeprefix("sqlite:///").split("?")[0])
    if artifacts is not None and _describe(artifacts).get("path"):
        places["artifacts"] = str(_describe(artifacts)["path"])
    checks = []
    for what, path in places.items():
        usage = shutil.disk_usage(_existing(path))
        free = f"{_size(usage.free)} free of {_size(usage.total)} at {path}"
        if usage.free < min_free:
            checks.append(
                Check(f"disk ({what})", WARN, free + f" (under {_size(min_free)})",
                      "Free space: `flowy gc` removes unreferenced artifacts and expired runs.")
            )  # fmt: skip
        else:
            checks.append(Check(f"disk ({what})", OK, free))
    return checks


def index(metadata: Any, artifacts: Any) -> list[Check]:
    """The metadata and artifact stores agree: no lost index, no missing artifact file."""
    from flowy.artifacts import check_index
    from flowy.kernel.errors import FlowyError

    checks = []
    try:
        check_index(metadata, artifacts)
    except FlowyError as exc:
        checks.append(Check("index", FAIL, str(exc), "Run `flowy doctor --rebuild-index`."))
    recorded = metadata.artifact_uris()
    try:
        listed = {o.uri for o in artifacts.list_objects()}
    except NotImplementedError as exc:
        return [*checks, Check("index", WARN, f"{exc}.")]
    missing = sorted(u for u in recorded if u not in listed)
    if missing:
        checks.append(
            Check("index", FAIL,
                  f"{len(missing)} recorded artifact file(s) are missing from the artifact "
                  f"store (first: {missing[0]})",
                  "If the store moved, point the stack at it; else re-run what produced them.")
        )  # fmt: skip
    if not checks:
        checks.append(Check("index", OK, f"{len(recorded)} recorded artifact(s), all present"))
    return checks


def _describe(component: Any) -> dict[str, Any]:
    try:
        described = component.describe()
    except Exception:  # noqa: BLE001 - describe is optional and informative only
        return {}
    return described if isinstance(described, dict) else {}


def _existing(path: str) -> str:
    """``path`` or its nearest existing parent (the folder may not be made yet)."""
    while path and not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path or "."


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover
