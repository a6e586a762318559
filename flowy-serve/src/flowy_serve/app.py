"""The HTTP app: ``POST /predict``, ``GET /health``, ``GET /metadata``, ``GET /metrics``.

FastAPI is imported at the top: its routes read their annotations (``Request``)
from this module's globals. This module is imported only when a server starts.

The model being served lives in :attr:`ServerState.current` and is replaced by
one reference assignment when a stage follower loads another version
(:mod:`flowy_serve.follow`). A request reads it once when it starts and uses that
object to the end, so a switch never fails a request that is already running:
requests started before it finish on the old version, later ones use the new.

A request is decoded, predicted and encoded in a worker thread, so a slow model
(a random forest takes milliseconds for one row) or a 100,000-row batch uses every
core and never stalls the event loop. Only small bodies for a model whose calls
have been fast (under :data:`flowy_serve.loading.FAST_CALL` seconds on average)
are answered on the event loop, where a thread hop would cost more than the model.
"""

from __future__ import annotations

import hmac
import json
import os
import time
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from starlette.responses import Response

from flowy_serve import codecs
from flowy_serve.batching import MicroBatcher
from flowy_serve.errors import InputError
from flowy_serve.loading import ServedModel
from flowy_serve.metrics import ServeMetrics
from flowy_serve.predictors import check_method
from flowy_serve.schema import model_input

#: Bodies up to this size are handled on the event loop.
INLINE_BYTES = 32 * 1024
#: The default request body limit (``--max-body``): 64 MiB.
DEFAULT_MAX_BODY = 64 * 1024 * 1024


@dataclass
class ServerState:
    """What every request reads: the served model, the limits, the token, the metrics."""

    current: ServedModel
    max_body: int = DEFAULT_MAX_BODY
    token: str | None = None
    metrics: ServeMetrics = field(default_factory=ServeMetrics)
    follower: Any = None
    batcher: MicroBatcher | None = None

    def swap(self, new: ServedModel) -> None:
        """Serve ``new`` from the next request on (one atomic reference assignment)."""
        self.current = new
        self.metrics.served(new.info["name"], new.version)
        self.metrics.switches.inc()


def _error(status: int, message: str) -> Response:
    return Response(
        json.dumps({"error": message}).encode(), status_code=status, media_type=codecs.JSON
    )


def _authorized(state: ServerState, request: Any) -> bool:
    if state.token is None:
        return True
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), state.token.encode())


async def _read_body(request: Any, limit: int) -> bytes:
    """The body, or a 413 as soon as it passes ``limit`` (declared or streamed)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise InputError(
            f"the body is {declared} bytes; this server takes at most {limit}", status=413
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise InputError(f"the body passed {limit} bytes, this server's limit", status=413)
        chunks.append(chunk)
    return b"".join(chunks)


def _predict(
    served: ServedModel, body: bytes, kind: str, answer: str, method: str
) -> tuple[bytes, int]:
    """Decode, validate, predict, encode: the whole request, as one plain function."""
    check_method(served.predictor, method)
    inputs = model_input(codecs.decode(body, kind), served.schema)
    predictions = served.answer(inputs, method)
    classes = None
    if method == "predict_proba":
        classes = getattr(served.predictor, "classes", lambda: None)()
    return codecs.encode(predictions, answer, classes=classes), len(inputs)


_REASONS = {400: "input", 401: "auth", 413: "too_large", 415: "unsupported", 422: "input"}


def create_app(state: ServerState) -> Any:
    """The FastAPI app over ``state`` (its follower, if any, runs for the app's lifetime)."""
    import contextlib

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> Any:
        state.metrics.served(state.current.info["name"], state.current.version)
        if state.follower is not None:
            state.follower.start()
        if state.batcher is not None:
            await state.batcher.start()
        try:
            yield
        finally:
            if state.batcher is not None:
                await state.batcher.stop()
            if state.follower is not None:
                state.follower.stop()

    app = FastAPI(
        title="Flowy model server", docs_url=None, redoc_url=None, openapi_url=None,
        lifespan=lifespan,
    )  # fmt: skip
    app.state.flowy = state
    # As many model calls at once as there are cores: more threads only fight over the GIL.
    limiter = anyio.CapacityLimiter(max(2, os.cpu_count() or 2))

    @app.post("/predict")
    async def predict(request: Request) -> Response:
        started = time.perf_counter()
        served = state.current  # read once: a version switch never changes a running request
        try:
            if not _authorized(state, request):
                raise InputError(
                    "missing or wrong token: send Authorization: Bearer TOKEN", status=401
                )
            kind = codecs.body_kind(request.headers.get("content-type"))
            answer = codecs.answer_kind(request.headers.get("accept"), kind)
            body = await _read_body(request, state.max_body)
            method = request.query_params.get("method", "predict")
            batch = state.batcher is not None and kind == "json" and len(body) <= INLINE_BYTES
            payload = codecs.decode(body, kind) if batch else None
            if state.batcher is not None and payload is not None and state.batcher.accepts(payload):
                check_method(served.predictor, method)
                content, rows = await state.batcher.submit(served, payload, method, answer)
            elif len(body) <= INLINE_BYTES and served.fast:
                content, rows = _predict(served, body, kind, answer, method)
            else:
                content, rows = await anyio.to_thread.run_sync(
                    _predict, served, body, kind, answer, method, limiter=limiter
                )
        except InputError as exc:
            state.metrics.observe("/predict", exc.status, time.perf_counter() - started,
                                  _REASONS.get(exc.status, "input"))  # fmt: skip
            return _error(exc.status, str(exc))
        except Exception as exc:  # noqa: BLE001 - the model itself failed: a 500 that names it
            state.metrics.observe("/predict", 500, time.perf_counter() - started, "model")
            return _error(500, f"the model failed: {type(exc).__name__}: {exc}")
        state.metrics.rows.inc(rows)
        state.metrics.observe("/predict", 200, time.perf_counter() - started)
        headers = {"X-Flowy-Model-Version": str(served.version)}
        return Response(content, media_type=codecs.MEDIA[answer], headers=headers)

    @app.get("/health")
    async def health() -> Response:
        info = state.current.info
        body = {"status": "ok", "model": info["name"], "version": info["version"]}
        return Response(json.dumps(body).encode(), media_type=codecs.JSON)

    @app.get("/metadata")
    async def metadata(request: Request) -> Response:
        if not _authorized(state, request):
            state.metrics.observe("/metadata", 401, 0.0, "auth")
            return _error(401, "missing or wrong token: send Authorization: Bearer TOKEN")
        info = dict(state.current.info)
        if state.follower is not None:
            info["following"] = state.follower.describe()
        return Response(json.dumps(info, default=str).encode(), media_type=codecs.JSON)

    @app.get("/metrics")
    async def metrics(request: Request) -> Response:
        if not _authorized(state, request):
            state.metrics.observe("/metrics", 401, 0.0, "auth")
            return _error(401, "missing or wrong token: send Authorization: Bearer TOKEN")
        content, media = state.metrics.exposition()
        return Response(content, media_type=media)

    return app
