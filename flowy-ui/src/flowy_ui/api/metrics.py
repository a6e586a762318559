"""``/metrics``: Prometheus metrics read from the store (as ``flowy monitor serve``).

Outside ``/api/v1`` because that is where Prometheus looks, but guarded as the API
is (:mod:`flowy_ui.security`): when the server requires tokens, a scrape sends one,
made with ``flowy ui token create prometheus --role viewer`` and given to Prometheus
as the scrape job's ``authorization: {credentials_file: FILE}``. Not in the OpenAPI
schema: it is text for Prometheus, not JSON for the UI.

The server keeps one :class:`flowy.tracking.StoreMetrics` (its step totals persist
between scrapes); each scrape reads the store through the calling thread's client.
"""

from __future__ import annotations

import threading

from fastapi import APIRouter, Request, Response

from flowy_ui.api.deps import Pool

router = APIRouter(tags=["metrics"])
_lock = threading.Lock()


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request, pool: Pool) -> Response:
    """One scrape in the Prometheus text format."""
    from flowy.tracking import StoreMetrics, metrics_exposition
    from prometheus_client import CONTENT_TYPE_LATEST

    state = request.app.state
    with _lock:
        collector = getattr(state, "store_metrics", None)
        if collector is None:
            collector = state.store_metrics = StoreMetrics(lambda: pool.client().store)
    return Response(metrics_exposition(collector), media_type=CONTENT_TYPE_LATEST)
