"""A running attempt's output, handed on in small batches while the step runs.

:func:`flowy.run.worker.execute_attempt` keeps everything a step prints in its
:class:`~flowy.run.native_output.AttemptLog`, and the log reaches the run only
in the attempt's result. Given ``on_output``, it also attaches a
:class:`LiveOutput` to the log, so that the run (``flowy ui``'s logs panel) sees
the output while the step still runs:

* Each write is appended to a buffer under a lock: no I/O on the step's thread,
  so printing costs the step next to nothing, and a step that prints nothing
  never even starts the forwarding thread.
* A daemon thread, started by the first write, hands the buffer to
  ``on_output`` every :data:`INTERVAL` seconds (a line printed before a long
  computation shows within that time, not at the next print), at most
  :data:`FLUSH_CAP` characters per call: a store write per batch, never per print.
* After :data:`TOTAL_CAP` characters in one attempt it stops forwarding and
  sends :data:`TRUNCATED` once: the live view is a view; the full log is still
  in the attempt's result.
* :meth:`LiveOutput.close` stops and joins the thread before the attempt
  returns, so no live output of an attempt arrives after its result. What is
  still buffered then is dropped (the result carries it), except after a
  failure that may be retried: the run shows the step as running on, so that
  attempt's last words are handed on first (``close(flush=True)``).

What native code writes to descriptors 1 and 2 reaches the log when Python-level
output is written or when the attempt ends (see :mod:`flowy.run.native_output`),
so such output may show only in the final log.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

#: Seconds between two hand-overs of a running attempt's output.
INTERVAL = 0.5
#: Characters handed over at most per call of ``on_output``.
FLUSH_CAP = 64 * 1024
#: Characters one attempt forwards at most; beyond it, :data:`TRUNCATED` once.
TOTAL_CAP = 1024 * 1024
#: Sent once instead of what is beyond :data:`TOTAL_CAP`.
TRUNCATED = "\n[output truncated in the live view; the full log is kept]\n"


class LiveOutput:
    """Buffers an attempt's output and hands it to ``send`` from a timer thread.

    ``write`` is called for every piece of text the log receives, from any
    thread; ``send`` is called from one thread at a time, in order. An
    exception from ``send`` stops forwarding (the view is lost, the step is not).
    """

    def __init__(
        self,
        send: Callable[[str], None],
        interval: float = INTERVAL,
        flush_cap: int = FLUSH_CAP,
        total_cap: int = TOTAL_CAP,
    ) -> None:
        self._send = send
        self._interval = interval
        self._flush_cap = flush_cap
        self._room = total_cap  # characters that may still be accepted
        self._pending: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._broken = False

    def write(self, text: str) -> None:
        """Take ``text`` for the next hand-over (cheap: no I/O here)."""
        if not text or self._room <= 0:
            return
        with self._lock:
            if self._closed or self._room <= 0:
                return
            if len(text) >= self._room:
                text = text[: self._room] + TRUNCATED
                self._room = 0
            else:
                self._room -= len(text)
            self._pending.append(text)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="flowy-live-output", daemon=True
                )
                self._thread.start()

    def _take(self) -> str:
        """Up to ``flush_cap`` characters of the buffer, removed from it."""
        with self._lock:
            if not self._pending:
                return ""
            text = "".join(self._pending)
            self._pending.clear()
            if len(text) > self._flush_cap:
                self._pending.append(text[self._flush_cap :])
                text = text[: self._flush_cap]
            return text

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            text = self._take()
            if not text:
                continue
            try:
                self._send(text)
            except Exception:  # noqa: BLE001 - the view is lost, never the step
                with self._lock:
                    self._closed = self._broken = True
                    self._pending.clear()
                return

    def close(self, flush: bool = False) -> None:
        """Stop forwarding and wait for a hand-over in progress; then drop what is left,
        or with ``flush`` hand it on from this thread first (in batches of the cap)."""
        with self._lock:
            self._closed = True
            thread = self._thread
        self._stop.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        while flush and not self._broken and (text := self._take()):
            try:
                self._send(text)
            except Exception:  # noqa: BLE001 - the view is lost, never the step
                break
        with self._lock:
            self._pending.clear()
