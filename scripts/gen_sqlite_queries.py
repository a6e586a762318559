"""Write flowy-store-sqlite's generated SQLite files from its SQLAlchemy sources.

* ``flowy_store_sqlite/sqlite_queries.py``: the shared queries of
  ``queries.py`` compiled for SQLite (what the stdlib store runs);
* ``flowy_store_sqlite/sqlite_schema.sql``: the head schema of ``schema.py``
  (what the stdlib store creates a new database from).

``python scripts/gen_sqlite_queries.py`` rewrites both after a change to a
query or a table; ``--check`` exits 1 when either is stale (flowy-store-sqlite's
tests check the same).
"""

from __future__ import annotations

import sys
from pathlib import Path

from flowy_store_sqlite import queries, schema


def main(argv: list[str]) -> int:
    package = Path(queries.__file__).parent
    generated = {
        package / "sqlite_queries.py": queries.sqlite_source(),
        package / schema.SQLITE_DDL_FILE: schema.sqlite_ddl(),
    }
    stale = [path for path, text in generated.items() if path.read_text("utf-8") != text]
    if "--check" in argv:
        for path in stale:
            print(f"{path} is stale: run python scripts/gen_sqlite_queries.py", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.write_text(generated[path], encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
