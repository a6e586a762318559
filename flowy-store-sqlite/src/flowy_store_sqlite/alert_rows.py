"""The :class:`flowy.kernel.alerting.AlertLog` capability for both SQL stores.

Alerts are evaluated when every run ends, so the stdlib store
(:class:`~flowy_store_sqlite.sqlite.SQLiteMetadataStore`) answers these itself
instead of forwarding to the SQLAlchemy store: opening that one imports
SQLAlchemy (about 125 ms), far over the 20 ms evaluation budget. The queries
are therefore plain SQL that SQLite and PostgreSQL both run, with ``:name``
parameters (sqlite3's named style, and SQLAlchemy's ``text()``); each store
supplies its ``_transaction(write)`` and :meth:`AlertQueries._run` adapts the
cursor or connection it yields. (SQLAlchemy Core tables would not help here: the
stdlib store runs strings, and these few statements are the same in both.)

Deduplication: :meth:`fire_alert` checks for a firing alert of the same rule
and subject and inserts inside one write transaction (``BEGIN IMMEDIATE`` on
SQLite, a table lock on PostgreSQL); :meth:`resolve_alert` only changes a row
still firing, so of two processes resolving one incident, one reports it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any

from flowy.kernel.alerting import FIRING, RESOLVED, AlertLog, AlertRecord, DeliveryRecord

Query = Callable[[str, dict[str, Any]], list[dict[str, Any]]]

_ALERT_COLUMNS = (
    "rule, kind, subject, status, severity, message, pipeline, run_id, step, artifact_id, "
    "model, model_version, details, fired_at, updated_at, resolved_at"
)
_INSERT_ALERT = (
    f"INSERT INTO alerts ({_ALERT_COLUMNS}) VALUES (:rule, :kind, :subject, :status, "
    ":severity, :message, :pipeline, :run_id, :step, :artifact_id, :model, :model_version, "
    ":details, :fired_at, :updated_at, :resolved_at) RETURNING id"
)
_FIRING_OF = "SELECT id FROM alerts WHERE rule = :rule AND subject = :subject AND status = :status"
_RESOLVE = (
    "UPDATE alerts SET status = :resolved, resolved_at = :at, updated_at = :at, "
    "message = :message WHERE id = :id AND status = :firing"
)
_INSERT_DELIVERY = (
    "INSERT INTO alert_deliveries (alert_id, notifier, event, status, attempts, error, at) "
    "VALUES (:alert_id, :notifier, :event, :status, :attempts, :error, :at) RETURNING id"
)
_RUN_DURATIONS = (
    "SELECT finished_at - started_at AS took FROM runs WHERE pipeline = :pipeline "
    "AND status = 'completed' AND finished_at IS NOT NULL AND run_id != :exclude "
    "ORDER BY started_at DESC LIMIT :limit"
)
_STEP_DURATIONS = (
    "SELECT s.finished_at - s.started_at AS took FROM step_runs s JOIN runs r "
    "ON r.run_id = s.run_id WHERE r.pipeline = :pipeline AND s.step = :step "
    "AND s.status = 'completed' AND s.finished_at IS NOT NULL AND s.run_id != :exclude "
    "ORDER BY s.started_at DESC LIMIT :limit"
)
_PRODUCTION = (
    "SELECT version, run_id FROM model_versions WHERE name = :name AND stage = 'production' "
    "ORDER BY version DESC LIMIT 1"
)
_RUN_VERSION = (
    "SELECT max(version) AS version FROM model_versions WHERE name = :name AND run_id = :run_id"
)
_LAST_SUCCESS = (
    "SELECT run_id, finished_at FROM runs WHERE pipeline = :pipeline AND status = 'completed' "
    "AND finished_at IS NOT NULL AND finished_at <= :before AND run_id != :exclude "
    "ORDER BY finished_at DESC LIMIT 1"
)


def _alert(row: dict[str, Any]) -> AlertRecord:
    data = dict(row)
    data["details"] = json.loads(data.get("details") or "{}")
    return AlertRecord(**data)


class AlertQueries(AlertLog):
    """Alert incidents, deliveries, and the run history rules compare against."""

    if TYPE_CHECKING:

        def _transaction(self, write: bool) -> AbstractContextManager[Any]: ...

    @contextmanager
    def _run(self, write: bool = False, *, lock: bool = False) -> Iterator[Query]:
        """A transaction and a function running one SQL statement in it, rows as dicts.

        ``lock`` serialises writers of ``alerts`` where a write transaction alone does
        not: PostgreSQL's READ COMMITTED lets two transactions both see no firing row
        and both insert; a SHARE ROW EXCLUSIVE lock (readers still pass) makes the
        check-and-insert atomic there, as BEGIN IMMEDIATE does on SQLite.
        """
        with self._transaction(write) as handle:
            if isinstance(handle, sqlite3.Cursor):

                def query(sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
                    cur = handle.execute(sql, params)
                    if cur.description is None:
                        return [{"rowcount": cur.rowcount}]
                    names = [d[0] for d in cur.description]
                    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

            else:
                from sqlalchemy import text

                if lock and handle.dialect.name == "postgresql":
                    handle.execute(text("LOCK TABLE alerts IN SHARE ROW EXCLUSIVE MODE"))

                def query(sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
                    result = handle.execute(text(sql), params)
                    if not result.returns_rows:
                        return [{"rowcount": result.rowcount}]
                    return [dict(r) for r in result.mappings()]

            yield query

    # -- incidents ------------------------------------------------------------

    def firing_alerts(self) -> list[AlertRecord]:
        with self._run() as q:
            rows = q("SELECT * FROM alerts WHERE status = :s ORDER BY id", {"s": FIRING})
        return [_alert(r) for r in rows]

    def fire_alert(self, alert: AlertRecord) -> AlertRecord | None:
        row = {
            "rule": alert.rule,
            "kind": alert.kind,
            "subject": alert.subject,
            "status": FIRING,
            "severity": alert.severity,
            "message": alert.message,
            "pipeline": alert.pipeline,
            "run_id": alert.run_id,
            "step": alert.step,
            "artifact_id": alert.artifact_id,
            "model": alert.model,
            "model_version": alert.model_version,
            "details": json.dumps(alert.details, default=str),
            "fired_at": alert.fired_at,
            "updated_at": alert.updated_at,
            "resolved_at": None,
        }
        with self._run(write=True, lock=True) as q:
            if q(_FIRING_OF, {"rule": alert.rule, "subject": alert.subject, "status": FIRING}):
                return None
            new_id = q(_INSERT_ALERT, row)[0]["id"]
        return AlertRecord(
            **{**row, "details": dict(alert.details), "id": int(new_id)}  # type: ignore[arg-type]
        )

    def resolve_alert(self, alert_id: int, at: float, message: str) -> bool:
        with self._run(write=True) as q:
            changed = q(
                _RESOLVE,
                {
                    "resolved": RESOLVED,
                    "firing": FIRING,
                    "at": at,
                    "message": message,
                    "id": alert_id,
                },
            )
        return bool(changed and changed[0]["rowcount"] == 1)

    def list_alerts(self, *, include_resolved: bool = False, limit: int = 200) -> list[AlertRecord]:
        where = "" if include_resolved else "WHERE status = :firing "
        sql = (
            f"SELECT * FROM alerts {where}ORDER BY CASE WHEN status = :firing THEN 0 ELSE 1 END, "
            "fired_at DESC, id DESC LIMIT :limit"
        )
        with self._run() as q:
            rows = q(sql, {"firing": FIRING, "limit": int(limit)})
        return [_alert(r) for r in rows]

    # -- deliveries -------------------------------------------------------------

    def record_delivery(self, delivery: DeliveryRecord) -> int:
        with self._run(write=True) as q:
            rows = q(
                _INSERT_DELIVERY,
                {
                    "alert_id": delivery.alert_id,
                    "notifier": delivery.notifier,
                    "event": delivery.event,
                    "status": delivery.status,
                    "attempts": delivery.attempts,
                    "error": delivery.error,
                    "at": delivery.at,
                },
            )
        return int(rows[0]["id"])

    def alert_deliveries(
        self, alert_id: int | None = None, *, status: str | None = None, limit: int = 500
    ) -> list[DeliveryRecord]:
        clauses, params = [], {"limit": int(limit)}
        if alert_id is not None:
            clauses.append("alert_id = :alert_id")
            params["alert_id"] = int(alert_id)
        if status is not None:
            clauses.append("status = :status")
            params["status"] = status  # type: ignore[assignment]
        where = f"WHERE {' AND '.join(clauses)} " if clauses else ""
        with self._run() as q:
            rows = q(f"SELECT * FROM alert_deliveries {where}ORDER BY id DESC LIMIT :limit", params)
        return [DeliveryRecord(**r) for r in rows]

    # -- history ----------------------------------------------------------------

    def recent_durations(
        self, pipeline: str, step: str | None, *, limit: int, exclude_run: str | None = None
    ) -> list[float]:
        params: dict[str, Any] = {
            "pipeline": pipeline,
            "limit": int(limit),
            "exclude": exclude_run or "",
        }
        if step is not None:
            params["step"] = step
        with self._run() as q:
            rows = q(_RUN_DURATIONS if step is None else _STEP_DURATIONS, params)
        return [float(r["took"]) for r in rows]

    def last_successful_run(
        self, pipeline: str, *, before: float | None = None, exclude_run: str | None = None
    ) -> tuple[str, float] | None:
        with self._run() as q:
            rows = q(
                _LAST_SUCCESS,
                {
                    "pipeline": pipeline,
                    "before": 1e300 if before is None else before,
                    "exclude": exclude_run or "",
                },
            )
        return (str(rows[0]["run_id"]), float(rows[0]["finished_at"])) if rows else None

    def production_model(self, name: str) -> tuple[int, str] | None:
        with self._run() as q:
            rows = q(_PRODUCTION, {"name": name})
        return (int(rows[0]["version"]), str(rows[0]["run_id"])) if rows else None

    def run_model_version(self, name: str, run_id: str) -> int | None:
        with self._run() as q:
            rows = q(_RUN_VERSION, {"name": name, "run_id": run_id})
        return int(rows[0]["version"]) if rows and rows[0]["version"] is not None else None
