"""The change feed, running steps and cancel requests of both metadata stores, written once.

The store methods behind ``flowy ui``'s live updates and ``flowy runs cancel``
(see :class:`flowy.kernel.contracts.MetadataStore`), over the queries of
:mod:`flowy_store_sqlite.changes` as each store runs them (``Q``, ``_select``
and ``_execute``: see :mod:`flowy_store_sqlite.shared_methods`). No
SQLAlchemy here: the stdlib store must not import it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from flowy.kernel.errors import FlowyError
from flowy.kernel.records import RUNNING, RunChange

if TYPE_CHECKING:
    from flowy.kernel.records import RunRecord

#: How a change of a run or a step is named in ``run_changes.kind``.
RUN = "run"
STEP = "step"
#: A running step printed more (``append_step_output``): viewers refresh its logs.
OUTPUT = "output"
#: The status a run's change carries when someone asked to cancel it.
CANCELLING = "cancelling"


def change_row(run_id: str, step: str | None, kind: str, status: str, at: float) -> dict[str, Any]:
    """The parameters of ``INSERT_CHANGE`` for one change."""
    return {"run_id": run_id, "step": step, "kind": kind, "status": status, "at": at}


class ChangeMethods:
    """``changes_since``, ``running_steps``, ``record_step_started`` and cancelling."""

    Q: ClassVar[Any]

    if TYPE_CHECKING:  # the store's own (see shared_methods)

        def _select(self, *queries: tuple[Any, Mapping[str, Any]]) -> list[Any]: ...
        def _execute(self, *writes: tuple[Any, Sequence[Mapping[str, Any]]]) -> list[int]: ...
        def get_run(self, run_id: str) -> RunRecord: ...

        _lock: threading.RLock

    def record_step_started(self, run_id: str, step: str, started_at: float) -> None:
        """One ``running`` change: a step handed to the executor (one small transaction)."""
        self._execute((self.Q.INSERT_CHANGE, [change_row(run_id, step, STEP, RUNNING, started_at)]))

    def append_step_output(self, run_id: str, step: str, text: str) -> None:
        """One batch of a running step's output and an ``output`` change, in one transaction.

        The step is remembered, so that its record (``output_cleanup``) deletes the batches.
        """
        now = time.time()
        self._execute(
            (self.Q.INSERT_OUTPUT, [{"run_id": run_id, "step": step, "text": text, "at": now}]),
            (self.Q.INSERT_CHANGE, [change_row(run_id, step, OUTPUT, RUNNING, now)]),
        )
        with self._lock:
            self._steps_with_output().add((run_id, step))

    def step_output(self, run_id: str, step: str) -> str:
        """A running step's output so far: its batches in order ("" once it is recorded)."""
        (rows,) = self._select((self.Q.STEP_OUTPUT, {"run_id": run_id, "step": step}))
        return "".join(r["text"] for r in rows)

    def output_cleanup(self, run_id: str, step: str) -> list[tuple[Any, list[dict[str, Any]]]]:
        """The write deleting a step's live output, for its record's transaction.

        Only for a step this store saw output of (the orchestrator's store is the
        one that appends), so recording a step that printed nothing costs nothing.
        """
        with self._lock:
            seen = self._steps_with_output()
            if (run_id, step) not in seen:
                return []
            seen.discard((run_id, step))
        return [(self.Q.DELETE_OUTPUT, [{"where_run_id": run_id, "where_step": step}])]

    def _steps_with_output(self) -> set[tuple[str, str]]:
        found: set[tuple[str, str]] | None = self.__dict__.get("_output_steps")
        if found is None:
            found = self.__dict__["_output_steps"] = set()
        return found

    def running_steps(self, run_id: str) -> list[tuple[str, float]]:
        """Steps with a ``running`` change and no step record yet, in start order."""
        (rows,) = self._select((self.Q.RUNNING_STEPS, {"run_id": run_id}))
        return [(r["step"], float(r["at"])) for r in rows]

    def changes_since(self, seq: int, limit: int = 1000) -> list[RunChange]:
        """Changes after ``seq`` in ``seq`` order: one indexed range read."""
        (rows,) = self._select((self.Q.CHANGES_SINCE, {"seq": int(seq), "limit": int(limit)}))
        return [
            RunChange(int(r["seq"]), r["run_id"], r["step"], r["kind"], r["status"], float(r["at"]))
            for r in rows
        ]

    def latest_change(self) -> int:
        (rows,) = self._select((self.Q.LATEST_CHANGE, {}))
        return int(rows[0]["seq"] or 0) if rows else 0

    def request_cancel(self, run_id: str, requested_by: str) -> bool:
        """Record a cancel request (and a ``cancelling`` change) for a running run.

        False when the run already has one; raises when it is not running.
        Two requests at once: the second fails on the primary key and is a False too.
        """
        run = self.get_run(run_id)  # RunNotFoundError for an unknown id; resolves a prefix
        if run.status != RUNNING:
            raise FlowyError(
                f"Run {run.run_id} is {run.status}, not running: there is nothing to cancel."
            )
        if self.cancel_requested(run.run_id):
            return False
        now = time.time()
        request = {"run_id": run.run_id, "requested_at": now, "requested_by": requested_by}
        try:
            self._execute(
                (self.Q.INSERT_CANCEL, [request]),
                (self.Q.INSERT_CHANGE, [change_row(run.run_id, None, RUN, CANCELLING, now)]),
            )
        except Exception as exc:  # the other request won the race: it stands
            if "IntegrityError" not in type(exc).__name__:
                raise
            return False
        return True

    def cancel_requested(self, run_id: str) -> bool:
        """Whether ``run_id`` (the full id) has a cancel request: one primary-key read."""
        (rows,) = self._select((self.Q.CANCEL_REQUEST, {"run_id": run_id}))
        return bool(rows)
