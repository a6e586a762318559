"""Live updates: one watcher per server, fanned out to every open page.

A page never polls the database. :class:`LiveHub` alone reads the metadata
store's change feed (:meth:`~flowy.kernel.contracts.MetadataStore.changes_since`),
every :data:`POLL_INTERVAL` seconds, on one thread of its own (a store client
belongs to the thread that opened it, see :mod:`flowy_ui.clients`), and hands
each change to the subscribers that want it through bounded asyncio queues:

* with nobody subscribed it sleeps on an event and queries nothing, so an idle
  server costs no CPU;
* a subscriber whose queue is full (a page that stopped reading) is dropped
  with one ``{"kind": "resync"}`` message: it never slows the others;
* a subscriber that comes back with the last ``seq`` it saw gets what it
  missed from the store (:meth:`LiveHub.replay`), or a resync when that is
  more than :data:`MAX_REPLAY` changes;
* a store without a feed (the default methods: a third-party store) is polled
  for its newest runs every :data:`FALLBACK_INTERVAL` seconds instead, and the
  differences become run-level changes (and step-level ones for runs a page
  watches) with this server's own sequence numbers.

PostgreSQL hands out sequence numbers before commit, so a change may become
visible after a higher one: the hub keeps its cursor below such a gap for up to
:data:`GAP_WAIT` seconds (re-reading past it, sending nothing twice), then
moves on. SQLite writes one transaction at a time and has no such gaps.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flowy.kernel.records import RunChange

    from flowy_ui.clients import ClientPool

log = logging.getLogger("flowy_ui.live")

#: Seconds between two reads of the change feed while anyone is subscribed.
POLL_INTERVAL = 0.2
#: Seconds between two reads of the newest runs for a store without a feed.
FALLBACK_INTERVAL = 2.0
#: Runs the fallback compares each time (the newest).
FALLBACK_RUNS = 100
#: Changes read per query (more are read at once, query after query).
BATCH = 1000
#: Changes one subscriber may have waiting before it is dropped with a resync.
QUEUE_SIZE = 2000
#: The most changes a reconnecting subscriber is sent from the store; more is a resync.
MAX_REPLAY = 5000
#: Seconds the cursor waits below a gap in the sequence (see the module docstring).
GAP_WAIT = 2.0

RESYNC: dict[str, Any] = {"kind": "resync"}


def message(change: RunChange) -> dict[str, Any]:
    """A change as the JSON every live client receives."""
    return {
        "seq": change.seq,
        "kind": change.kind,
        "run_id": change.run_id,
        "step": change.step,
        "status": change.status,
        "at": change.at,
    }


class Subscriber:
    """One open page: what it wants (``run``) and the queue of what it is sent."""

    def __init__(self, run: str | None, size: int = QUEUE_SIZE) -> None:
        self.run = run
        """None: run-level changes of every run (the runs list); else that run's changes."""
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(size)
        self.dropped = False
        """Set when its queue overflowed: it is sent a resync, then closed."""

    def wants(self, event: dict[str, Any]) -> bool:
        if self.run is None:
            return bool(event["kind"] == "run")
        return bool(event["run_id"] == self.run)

    def offer(self, event: dict[str, Any]) -> None:
        """Queue ``event`` if wanted; on overflow, drop everything for one resync."""
        if self.dropped or not self.wants(event):
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped = True
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(RESYNC)


class LiveHub:
    """The server's one watcher of the store (see the module docstring).

    Started and stopped by the app's lifespan (:meth:`start`, :meth:`stop`);
    endpoints use :meth:`subscription`.
    """

    def __init__(self, pool: ClientPool, interval: float = POLL_INTERVAL) -> None:
        self.pool = pool
        self.interval = interval
        self.subscribers: set[Subscriber] = set()
        self.cursor = 0
        """The newest ``seq`` every subscriber has been offered (below any open gap)."""
        self.polls = 0
        """Reads of the store so far (tests check an idle hub makes none)."""
        self.feed: bool | None = None
        """Whether the store keeps a change feed (None until first asked)."""
        self._sent: set[int] = set()
        self._gap_since: float | None = None
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        # One thread reads the store: its client is opened there once and reused.
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="flowy-live")
        self._fallback_seen: dict[str, tuple[str, float | None]] = {}
        self._fallback_steps: dict[str, dict[str, str]] = {}
        self._fallback_seq = 0
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> None:
        """Start watching (on the running event loop)."""
        self._wake = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._watch(), name="flowy-live")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._thread.shutdown(wait=False, cancel_futures=True)

    async def _in_thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    # -- subscribing -------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def subscription(
        self, run: str | None, since: int | None
    ) -> AsyncIterator[tuple[Subscriber, list[dict[str, Any]]]]:
        """Subscribe for ``run`` (None: every run's run-level changes).

        Yields the subscriber and what it missed after ``since`` (a list that is
        ``[RESYNC]`` when too much was missed; empty without ``since``). Its queue
        then receives every later change it wants, none twice.
        """
        sub = Subscriber(run)
        awake = bool(self.subscribers)
        self.subscribers.add(sub)
        try:
            if not awake:
                await self._in_thread(self._catch_up)  # idle until now: start from here
                assert self._wake is not None
                self._wake.set()
            missed: list[dict[str, Any]] = []
            if since is not None:
                missed = await self._in_thread(self.replay, sub, since)
            yield sub, missed
        finally:
            self.subscribers.discard(sub)

    def replay(self, sub: Subscriber, since: int) -> list[dict[str, Any]]:
        """What ``sub`` missed after ``since`` and the hub already passed (from the store)."""
        if not self._has_feed() or since < 0:
            return [RESYNC]
        upto = self.cursor
        if since >= upto:
            return []
        store = self.pool.client().store
        found: list[dict[str, Any]] = []
        seq = since
        while seq < upto:
            changes = store.changes_since(seq, BATCH)
            if not changes:
                break
            for change in changes:
                if change.seq > upto:
                    return found
                event = message(change)
                if sub.wants(event):
                    found.append(event)
                    if len(found) > MAX_REPLAY:
                        return [RESYNC]
            seq = changes[-1].seq
        return found

    def stats(self) -> dict[str, Any]:
        return {"subscribers": len(self.subscribers), "cursor": self.cursor, "polls": self.polls}

    # -- watching ----------------------------------------------------------------

    def _has_feed(self) -> bool:
        if self.feed is None:
            from flowy.kernel.metadata_store import MetadataStore

            store = self.pool.client().store
            self.feed = type(store).changes_since is not MetadataStore.changes_since
        return self.feed

    def _catch_up(self) -> None:
        """Move the cursor to the newest change: what happened while idle is nobody's."""
        self.polls += 1
        if self._has_feed():
            self.cursor = self.pool.client().store.latest_change()
            self._sent.clear()
            self._gap_since = None
        else:
            self._fallback_poll(emit=False)

    async def _watch(self) -> None:
        assert self._wake is not None
        while True:
            if not self.subscribers:
                self._wake.clear()
                await self._wake.wait()  # idle: no query at all
                continue
            try:
                events = await self._in_thread(self._poll)
            except Exception:
                log.warning("reading the change feed failed", exc_info=True)
                events = []
            for event in events:
                for sub in list(self.subscribers):
                    sub.offer(event)
            await asyncio.sleep(self.interval if self.feed else FALLBACK_INTERVAL)

    def _poll(self) -> list[dict[str, Any]]:
        """New changes since the cursor (in the hub's thread)."""
        self.polls += 1
        if not self._has_feed():
            return self._fallback_poll(emit=True)
        store = self.pool.client().store
        events: list[dict[str, Any]] = []
        while True:
            changes = store.changes_since(self.cursor, BATCH)
            for change in changes:
                if change.seq not in self._sent:
                    self._sent.add(change.seq)
                    events.append(message(change))
            self._advance()
            if len(changes) < BATCH or not events:
                return events

    def _advance(self) -> None:
        """Move the cursor over the changes sent in a row; skip a gap once it is old."""
        while self.cursor + 1 in self._sent:
            self.cursor += 1
            self._sent.discard(self.cursor)
        if not self._sent:
            self._gap_since = None
            return
        now = time.monotonic()
        if self._gap_since is None:
            self._gap_since = now
        elif now - self._gap_since > GAP_WAIT:  # a rolled-back or deleted change
            self.cursor = max(self._sent)
            self._sent.clear()
            self._gap_since = None

    def _fallback_poll(self, emit: bool) -> list[dict[str, Any]]:
        """Run-level (and watched runs' step-level) changes by comparing the newest runs."""
        store = self.pool.client().store
        now = time.time()
        events: list[dict[str, Any]] = []
        for run in store.list_runs(limit=FALLBACK_RUNS):
            state = (run.status, run.finished_at)
            if self._fallback_seen.get(run.run_id) != state:
                self._fallback_seen[run.run_id] = state
                events.append(self._synthetic(run.run_id, None, "run", run.status, now))
        for run_id in {s.run for s in list(self.subscribers) if s.run is not None}:
            steps = {r.step: r.status for r in store.get_step_runs(run_id)}
            known = self._fallback_steps.setdefault(run_id, {})
            for step, status in steps.items():
                if known.get(step) != status:
                    known[step] = status
                    events.append(self._synthetic(run_id, step, "step", status, now))
        return events if emit else []

    def _synthetic(
        self, run_id: str, step: str | None, kind: str, status: str, at: float
    ) -> dict[str, Any]:
        self._fallback_seq += 1
        return {
            "seq": self._fallback_seq,
            "kind": kind,
            "run_id": run_id,
            "step": step,
            "status": status,
            "at": at,
        }
