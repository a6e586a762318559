"""DML statements compiled once per dialect and run straight on the DBAPI cursor.

SQLAlchemy Core costs 30-60 microseconds per ``execute`` even with its
compiled cache hot (execution context, events, result set-up); ``record_step``
runs six statements per step, which alone would eat the engine's per-step
budget. A :class:`Prepared` statement is compiled with the live dialect, so
the SQL text and paramstyle are right for whatever database the URL names,
and is then executed on the DBAPI cursor of the store's own connection,
inside the transaction SQLAlchemy opened.

The shortcut stays exact: the bind processors SQLAlchemy would apply for each
column type (Float's ``to_float``, say) are looked up once and applied here. A
statement with values baked into it (literal binds, callables) goes through
``Connection.execute`` as usual. Only DML: a SELECT's result processing
depends on the cursor's column types, which only SQLAlchemy should interpret.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Dialect
from sqlalchemy.sql.expression import Executable


class Prepared:
    """One INSERT, UPDATE or DELETE, compiled for ``dialect``; see the module docstring."""

    def __init__(self, stmt: Executable, dialect: Dialect):
        compiled = stmt.compile(dialect=dialect)  # type: ignore[attr-defined]
        self.stmt = stmt
        self.sql: str = compiled.string
        self.positional: bool = compiled.positional
        self.names: list[str] = list(compiled.positiontup or ()) if self.positional else []
        binds = compiled.binds
        # Type conversions SQLAlchemy would apply (e.g. Float's to_float), applied here too.
        self.bind_procs: list[tuple[str, Any]] = [
            (name, proc)
            for name, b in binds.items()
            if (proc := b.type.dialect_impl(dialect).bind_processor(dialect)) is not None
        ]
        # Values baked into the statement would need SQLAlchemy's parameter assembly.
        self.direct = all(
            (b.required or b.value is None) and not b.callable for b in binds.values()
        )

    def _args(self, row: Mapping[str, Any]) -> Any:
        if self.bind_procs:
            row = dict(row)
            for name, proc in self.bind_procs:
                row[name] = proc(row[name])
        return tuple([row[n] for n in self.names]) if self.positional else row

    def many(self, conn: Connection, cursor: Any, rows: Sequence[Mapping[str, Any]]) -> int:
        """Execute once per row with the driver's executemany; return the row count."""
        if not self.direct:
            return int(conn.execute(self.stmt, list(rows)).rowcount)
        if len(rows) == 1:
            cursor.execute(self.sql, self._args(rows[0]))
        else:
            cursor.executemany(self.sql, [self._args(r) for r in rows])
        return int(cursor.rowcount)


def cursor_of(conn: Connection) -> Any:
    """A DBAPI cursor on ``conn``'s own connection (so inside its transaction)."""
    return conn.connection.cursor()
