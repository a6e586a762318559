"""The SQL of the change feed, running steps and cancel requests.

Each is a SQLAlchemy Core construct, written once as every shared query is
(see :mod:`flowy_store_sqlite.queries`, which re-exports them so the SQLite
compilation in :mod:`flowy_store_sqlite.sqlite_queries` and the SQLAlchemy
store's prepared statements include them). The methods that run them are in
:mod:`flowy_store_sqlite.change_methods`.

A change row is written in the transaction of the change itself, so a reader
following ``seq`` never sees a change the store does not hold yet, and a
rolled-back write leaves none.
"""

from __future__ import annotations

from sqlalchemy import Float, and_, bindparam, cast, exists, func, insert, literal_column, select

from flowy_store_sqlite import schema as s

RUN = "run"
STEP = "step"

_c = s.run_changes.c
_r = s.runs.c

#: One change (a step recorded or started, a run created or asked to cancel).
INSERT_CHANGE = insert(s.run_changes).values(
    {name: bindparam(name) for name in ("run_id", "step", "kind", "status", "at")}
)
#: A run's change with the status its row holds now: written after the UPDATE that
#: finished or crashed it, and only when the run exists (no change for an unknown id).
RUN_CHANGED = insert(s.run_changes).from_select(
    ["run_id", "step", "kind", "status", "at"],
    select(
        _r.run_id,
        literal_column("NULL"),
        literal_column(f"'{RUN}'"),
        _r.status,
        cast(bindparam("at"), Float),
    ).where(_r.run_id == bindparam("where_run_id")),
)
#: The changes after ``seq``, oldest first, at most ``limit``.
CHANGES_SINCE = (
    select(s.run_changes)
    .where(_c.seq > bindparam("seq"))
    .order_by(_c.seq)
    .limit(bindparam("limit"))
)
#: The newest change's ``seq`` (NULL when there is none).
LATEST_CHANGE = select(func.max(_c.seq).label("seq"))
#: Steps of a run started (a ``running`` change) and not recorded since, in start order.
RUNNING_STEPS = (
    select(_c.step, _c.at)
    .where(
        _c.run_id == bindparam("run_id"),
        _c.kind == literal_column(f"'{STEP}'"),
        _c.status == literal_column("'running'"),
        ~exists().where(and_(s.step_runs.c.run_id == _c.run_id, s.step_runs.c.step == _c.step)),
    )
    .order_by(_c.seq)
)
#: A run's cancel request, if any.
CANCEL_REQUEST = select(s.run_cancel_requests.c.run_id).where(
    s.run_cancel_requests.c.run_id == bindparam("run_id")
)
INSERT_CANCEL = insert(s.run_cancel_requests).values(
    {name: bindparam(name) for name in ("run_id", "requested_at", "requested_by")}
)
