"""The SQL of running steps' live output (``MetadataStore.append_step_output``).

Written once as SQLAlchemy Core, like every shared query (re-exported by
:mod:`flowy_store_sqlite.queries`, compiled for SQLite in
:mod:`flowy_store_sqlite.sqlite_queries`). The rows are a running step's tail
only: the step's record deletes them (:data:`DELETE_OUTPUT`, in the record's
transaction), and :data:`STEP_OUTPUT` never shows rows of a step that has a
record, so a batch that arrives after the record is invisible too.
"""

from __future__ import annotations

from sqlalchemy import and_, bindparam, delete, exists, insert, select

from flowy_store_sqlite import schema as s

_o = s.step_output.c

#: One batch of a running step's output.
INSERT_OUTPUT = insert(s.step_output).values(
    {name: bindparam(name) for name in ("run_id", "step", "text", "at")}
)
#: A step's live output, once its record holds the full log.
DELETE_OUTPUT = delete(s.step_output).where(
    _o.run_id == bindparam("where_run_id"), _o.step == bindparam("where_step")
)
#: A running step's output batches in order (none once the step is recorded).
STEP_OUTPUT = (
    select(_o.text)
    .where(
        _o.run_id == bindparam("run_id"),
        _o.step == bindparam("step"),
        ~exists().where(and_(s.step_runs.c.run_id == _o.run_id, s.step_runs.c.step == _o.step)),
    )
    .order_by(_o.seq)
)
