"""Stage following: serve whatever version holds a stage, switching without downtime.

A thread asks the registry, every ``interval`` seconds, which version holds the
stage (one indexed query on the store's model versions). When the answer
changes (a promotion, a rollback), it loads the new version beside the one being
served, builds its predictor and schema, and only then swaps it in with one
reference assignment (:meth:`flowy_serve.app.ServerState.swap`). Requests never
wait for the load, and none fails: those already running finish on the old
version. A version that cannot be loaded (a damaged or unsafe artifact) is
reported and the old one goes on serving; it is tried again when the stage
changes again.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from flowy_serve.loading import ModelSpec, load_from_store

log = logging.getLogger("flowy_serve")


class StageFollower:
    """Polls the registry for ``spec.stage`` and swaps the served version in ``state``."""

    def __init__(
        self, state: Any, spec: ModelSpec, *, stack: str | None, interval: float = 1.0
    ) -> None:
        self.state = state
        self.spec = spec
        self.stack = stack
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_check: float | None = None
        self.last_error: str | None = None
        self._refused: int | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "stage": self.spec.stage,
            "poll_interval_s": self.interval,
            "last_check": self.last_check,
            "last_error": self.last_error,
        }

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="flowy-stage-follower", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        from flowy.tracking import Client

        client = None
        while not self._stop.wait(self.interval):
            try:
                if client is None:  # its own client: store connections stay in this thread
                    client = Client(stack=self.stack)
                self.check(client)
                self.last_error = None
            except Exception as exc:  # noqa: BLE001 - keep serving the old version; say why
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("stage follower: %s", self.last_error)
            self.last_check = time.time()
        if client is not None:
            client.close()

    def check(self, client: Any) -> bool:
        """Load and swap in the stage's version if it changed; True when it switched."""
        from flowy.kernel.errors import ModelNotFoundError

        try:
            holder = client.models.get(self.spec.name, stage=self.spec.stage)
        except ModelNotFoundError:
            return False  # nothing holds the stage now: keep serving what we have
        if holder.version in (self.state.current.version, self._refused):
            return False
        try:
            new = load_from_store(ModelSpec(self.spec.name, stage=self.spec.stage), client=client)
        except Exception:
            self._refused = holder.version
            raise
        self._refused = None
        old = self.state.current.version
        self.state.swap(new)
        log.warning(
            "%s@%s: now serving version %s (was %s)", self.spec.name, self.spec.stage,
            new.version, old,
        )  # fmt: skip
        return True
