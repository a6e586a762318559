"""A stack's health, as the Stacks page shows it: does each component resolve, do the stores answer.

Every component is resolved (its plugin found, its options valid) without being
built, as ``flowy stack describe`` does. The stores of the stack this server reads
are also probed with one cheap read each (the metadata store: is there a run; the
artifact store: does a name that is never written exist), timed, and bounded by
:data:`PROBE_TIMEOUT` so an unreachable database or bucket is reported as such
instead of holding the request. Another stack's stores are not contacted: the
server holds no connection to them and a health page must not open one per view.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flowy.tracking import Client

    from flowy_ui.clients import ClientPool

#: Seconds a store probe may take before it is reported as not answering.
PROBE_TIMEOUT = 10.0
#: A key no artifact is ever written under: probing it reads, never writes.
PROBE_KEY = "__flowy_ui_health_probe__"

_probes = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="flowy-ui-probe")


def _timed(probe: Callable[[], object]) -> dict[str, Any]:
    """Run ``probe`` with the time limit: ``{"ok", "ms", "error"}``."""
    start = time.perf_counter()
    future = _probes.submit(probe)
    try:
        future.result(timeout=PROBE_TIMEOUT)
    except concurrent.futures.TimeoutError:
        return {"ok": False, "ms": None, "error": f"no answer within {PROBE_TIMEOUT:.0f} s"}
    except Exception as exc:  # noqa: BLE001 - any failure of a probe is the finding
        from flowy.kernel.redact import mask_text

        return {"ok": False, "ms": None, "error": mask_text(f"{type(exc).__name__}: {exc}")}
    return {"ok": True, "ms": round((time.perf_counter() - start) * 1000, 1), "error": None}


def _probes_for(client: Client) -> dict[str, Callable[[], object]]:
    def metadata() -> object:
        return client.store.has_runs()

    def artifacts() -> object:
        store = client.artifact_store
        return store.exists(store.uri_for(PROBE_KEY))

    return {"metadata_store": metadata, "artifact_store": artifacts}


def stack_health(pool: ClientPool, name: str) -> dict[str, Any]:
    """The health of stack ``name``: each component resolved, the served stack's stores probed."""
    from fastapi import HTTPException
    from flowy.kernel.errors import FlowyError
    from flowy.stacks import check_stack, list_stacks

    stacks = list_stacks(pool.plugins, pool.project)
    if name not in stacks:
        known = ", ".join(sorted(stacks)) or "none"
        raise HTTPException(404, f"No stack named {name!r}. Stacks: {known}.")
    definition = stacks[name]
    client = pool.client()
    served = client.stack_name == name
    components: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    try:
        checked = check_stack(definition, pool.plugins, pool.project)
    except FlowyError as exc:  # unknown plugin, bad options: the finding itself
        problems.append(str(exc))
        checked = {}
    for kind, component in checked.items():
        components[kind] = {
            "type": component.type,
            "distribution": component.distribution,
            "version": component.version,
            "resolved": True,
            "probe": None,
        }
    if served and checked:
        for kind, probe in _probes_for(client).items():
            if kind in components:
                result = _timed(probe)
                components[kind]["probe"] = result
                if not result["ok"]:
                    problems.append(f"{kind}: {result['error']}")
    return {
        "name": name,
        "served": served,
        "ok": not problems,
        "problems": problems,
        "components": components,
    }
