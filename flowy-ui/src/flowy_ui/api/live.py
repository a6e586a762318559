"""``/api/v1/live``: run and step changes pushed to the page, over a WebSocket or SSE.

* ``WS /api/v1/live?run=<id>&since=<seq>``: one JSON message per change.
* ``GET /api/v1/live/events?run=<id>&since=<seq>``: the same as Server-Sent
  Events (``id: <seq>``; ``Last-Event-ID`` resumes like ``since``; a comment
  line every :data:`HEARTBEAT` seconds keeps proxies from closing it).

Without ``run``: run-level changes of every run (the runs list); with it, that
run's run- and step-level changes (its page), ``output`` ones included (a
running step printed more: its logs are stale). A message is
``{"seq", "kind": "run"|"step"|"output", "run_id", "step", "status", "at"}``; the first
is ``{"kind": "hello", "seq"}`` (the feed's position: reconnect with it as
``since``), and ``{"kind": "resync"}`` means "too much was missed: reload what
you show" (the connection then closes). Every page reads from the server's one
:class:`~flowy_ui.live.LiveHub`, never from the database itself.

The HTTP middleware (:mod:`flowy_ui.security`) does not see WebSockets, so
the socket makes the same checks itself: the ``Host`` name, the ``Origin``
(this server only), and the token, which a browser cannot put in a header of a
WebSocket: it comes as a ``bearer.<token>`` subprotocol or as the first message
``{"token": "..."}``, never in the URL (URLs end up in logs).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Annotated, Any, cast

from fastapi import APIRouter, Header, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from flowy_ui import security
from flowy_ui.api.deps import ERROR_RESPONSES, Pool
from flowy_ui.auth import EXPIRED, Authenticator
from flowy_ui.live import RESYNC, LiveHub

router = APIRouter(prefix="/live", tags=["live"], responses=ERROR_RESPONSES)

#: Seconds between two SSE heartbeat comments.
HEARTBEAT = 15.0
#: Seconds a WebSocket may take to send its token as the first message.
TOKEN_WAIT = 10.0
#: The subprotocol the server speaks (a client offering ``bearer.<token>`` must offer it too).
PROTOCOL = "flowy.live.v1"
#: WebSocket close codes (4000 + the HTTP status they stand for).
CLOSE_BAD_REQUEST, CLOSE_UNAUTHORIZED, CLOSE_FORBIDDEN, CLOSE_NOT_FOUND = 4400, 4401, 4403, 4404

RunParam = Annotated[str | None, Query(max_length=64, pattern=r"^[0-9A-Za-z_-]+$")]
SinceParam = Annotated[int | None, Query(ge=0, le=2**62)]


def _hub(app: Any) -> LiveHub:
    hub: LiveHub = app.state.live
    return hub


def _resolve(pool: Any, run: str | None) -> str | None:
    """The full id of ``run`` (an id or unique prefix); RunNotFoundError when unknown."""
    return None if run is None else str(pool.client().run(run).run_id)


async def _events(
    hub: LiveHub, run: str | None, since: int | None
) -> AsyncGenerator[dict[str, Any], None]:
    """hello, what was missed, then each change as it comes; ends after a resync."""
    async with hub.subscription(run, since) as (sub, missed):
        yield {"kind": "hello", "seq": hub.cursor}
        last = since or 0
        for event in missed:
            yield event
            if event is RESYNC:
                return
            last = max(last, int(event["seq"]))
        while True:
            event = await sub.queue.get()
            if event is RESYNC:
                yield event
                return
            if since is not None and int(event["seq"]) <= last:
                continue  # replayed already
            yield event


# -- Server-Sent Events ----------------------------------------------------------------


# Left out of the OpenAPI schema, as the WebSocket is: a stream that never ends is no
# request/response operation (a schema-driven client would wait on it forever).
@router.get("/events", response_class=StreamingResponse, include_in_schema=False)
async def events(
    request: Request,
    pool: Pool,
    run: RunParam = None,
    since: SinceParam = None,
    last_event_id: Annotated[str | None, Header(max_length=32)] = None,
) -> StreamingResponse:
    """Changes as Server-Sent Events (``id:`` is the ``seq``; ``Last-Event-ID`` resumes)."""
    if last_event_id is not None and last_event_id.strip().isdigit():
        since = int(last_event_id.strip())
    full = await run_in_threadpool(_resolve, pool, run)
    hub = _hub(request.app)

    async def stream() -> AsyncIterator[str]:
        yield "retry: 2000\n\n"
        source = _events(hub, full, since)
        pending: asyncio.Task[dict[str, Any]] | None = None
        try:
            while True:
                if pending is None:
                    pending = asyncio.ensure_future(anext(source))
                done, _ = await asyncio.wait({pending}, timeout=HEARTBEAT)
                if not done:
                    yield ": heartbeat\n\n"
                    continue
                try:
                    event = pending.result()
                except StopAsyncIteration:
                    return
                pending = None
                head = (
                    f"id: {event['seq']}\n" if "seq" in event and event["kind"] != "hello" else ""
                )
                yield f"{head}data: {json.dumps(event)}\n\n"
        finally:
            if pending is not None:
                pending.cancel()
                with contextlib.suppress(BaseException):
                    await pending
            with contextlib.suppress(Exception):
                await source.aclose()

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


# -- WebSocket ---------------------------------------------------------------------------


async def _authorized(websocket: WebSocket, auth: Authenticator) -> tuple[bool, str | None]:
    """Whether the socket may listen, and the subprotocol to accept it with.

    Checked before accepting when the token came as a subprotocol (or none is
    needed); otherwise after accepting, from the first message.
    """
    offered = [p.strip() for p in websocket.headers.get("sec-websocket-protocol", "").split(",")]
    chosen = PROTOCOL if PROTOCOL in offered else None
    token = next((p[len("bearer.") :] for p in offered if p.startswith("bearer.")), None)
    header = f"Bearer {token}" if token else None
    who = await run_in_threadpool(auth.authenticate, header)
    if who is not None and who is not EXPIRED:
        await websocket.accept(subprotocol=chosen)
        return True, chosen
    await websocket.accept(subprotocol=chosen)
    if token is None:  # the token may come as the first message
        with contextlib.suppress(Exception):
            first = await asyncio.wait_for(websocket.receive_text(), TOKEN_WAIT)
            sent = json.loads(first).get("token") if first.startswith("{") else None
            if isinstance(sent, str) and sent:
                who = await run_in_threadpool(auth.authenticate, f"Bearer {sent}")
                if who is not None and who is not EXPIRED:
                    return True, chosen
    await _refuse(websocket, CLOSE_UNAUTHORIZED, "A valid token is required.", "unauthorized")
    return False, chosen


async def _refuse(websocket: WebSocket, code: int, text: str, reason: str) -> None:
    with contextlib.suppress(Exception):
        await websocket.send_json({"kind": "error", "code": reason, "message": text})
        await websocket.close(code=code, reason=reason)


@router.websocket("")
async def live(websocket: WebSocket) -> None:
    """Changes as JSON messages (see the module docstring); the same checks as HTTP."""
    app = websocket.app
    settings = app.state.settings
    if not security.host_allowed(settings, websocket.headers.get("host", "")):
        await websocket.close(code=CLOSE_BAD_REQUEST, reason="bad_host")
        return
    if not security.same_origin(cast(Request, websocket)):
        await websocket.close(code=CLOSE_FORBIDDEN, reason="cross_origin")
        return
    ok, _ = await _authorized(websocket, app.state.auth)
    if not ok:
        return
    params = websocket.query_params
    run, since_text = params.get("run"), params.get("since")
    if (run is not None and not (0 < len(run) <= 64 and run.replace("-", "").isalnum())) or (
        since_text is not None and not since_text.isdigit()
    ):
        await _refuse(websocket, CLOSE_BAD_REQUEST, "run must be a run id, since a number.", "bad")
        return
    try:
        full = await run_in_threadpool(_resolve, app.state.clients, run)
    except Exception as exc:  # noqa: BLE001 - unknown or ambiguous id
        await _refuse(websocket, CLOSE_NOT_FOUND, str(exc), "not_found")
        return
    since = int(since_text) if since_text is not None else None
    source = _events(_hub(app), full, since)
    reader = asyncio.ensure_future(_drain(websocket))
    pending: asyncio.Future[dict[str, Any]] | None = None
    try:
        while True:
            pending = asyncio.ensure_future(anext(source))
            await asyncio.wait({pending, reader}, return_when=asyncio.FIRST_COMPLETED)
            if not pending.done():
                return  # the client went away: stop listening at once
            try:
                event = pending.result()
            except StopAsyncIteration:
                return
            pending = None
            await websocket.send_text(json.dumps(event))
            if event is RESYNC:
                await websocket.close(code=1000, reason="resync")
                return
    except (WebSocketDisconnect, RuntimeError):
        return
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
        reader.cancel()
        with contextlib.suppress(Exception):
            await source.aclose()


async def _drain(websocket: WebSocket) -> None:
    """Read (and ignore) what the client sends, so a close is noticed at once."""
    with contextlib.suppress(Exception):
        while True:
            got = await websocket.receive()
            if got.get("type") == "websocket.disconnect":
                return
