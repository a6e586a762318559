"""The model registry half of :class:`flowy.kernel.catalog.Catalog`, for the SQL store.

Every change happens in one write transaction (``BEGIN IMMEDIATE`` on
SQLite), so the rules hold under concurrent writers:

* the next version number is ``max(version) + 1`` read inside the writing
  transaction, and ``(name, version)`` is the primary key: numbers are unique
  and gapless. On a database where two transactions can still race (READ
  COMMITTED on PostgreSQL) the loser hits the key and retries.
* a stage other than ``archived``/``none`` has one holder: taking it
  archives the previous holder (history action ``displace``).
* ``rollback`` replays the append-only history as a stack of production
  versions (promote pushes, rollback pops, an explicit demotion removes) and
  returns production to the version below the current one.
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from flowy.kernel.catalog import (
    ARCHIVED,
    NO_STAGE,
    PRODUCTION,
    ModelSummary,
    ModelVersion,
    StageChange,
)
from flowy.kernel.errors import FlowyError, ModelNotFoundError
from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from flowy_store_sqlite import _rows
from flowy_store_sqlite import schema as s

#: Attempts at registering when a concurrent writer took the same version number.
REGISTER_ATTEMPTS = 20
_UNSHARED = (ARCHIVED, NO_STAGE)


class ModelRegistryQueries:
    """Model versions, stages and their history on the metadata database."""

    if TYPE_CHECKING:

        def _read(self) -> AbstractContextManager[Connection]: ...
        def _write(self) -> AbstractContextManager[Connection]: ...
        def _artifact_id(self, conn: Connection, ident: str) -> str: ...

    def register_model_version(
        self,
        name: str,
        artifact_id: str,
        *,
        user: str,
        description: str = "",
        run_id: str | None = None,
    ) -> ModelVersion:
        """Add version ``max + 1`` of ``name`` (creating the model on its first version)."""
        for attempt in range(REGISTER_ATTEMPTS):
            try:
                return self._register_once(name, artifact_id, user, description, run_id)
            except IntegrityError:
                if attempt == REGISTER_ATTEMPTS - 1:
                    raise
                time.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")  # pragma: no cover

    def _register_once(
        self, name: str, artifact_id: str, user: str, description: str, run_id: str | None
    ) -> ModelVersion:
        now = time.time()
        mv = s.model_versions.c
        with self._write() as conn:
            aid = self._artifact_id(conn, artifact_id)
            producer = conn.execute(
                select(s.artifacts.c.run_id).where(s.artifacts.c.artifact_id == aid)
            ).scalar_one()
            exists = conn.execute(
                select(s.registered_models.c.name).where(s.registered_models.c.name == name)
            ).first()
            if exists is None:
                conn.execute(
                    insert(s.registered_models),
                    {"name": name, "created_at": now, "description": description},
                )
            latest = conn.execute(select(func.max(mv.version)).where(mv.name == name)).scalar()
            version = ModelVersion(
                name,
                int(latest or 0) + 1,
                aid,
                run_id or producer,
                NO_STAGE,
                now,
                user,
                description,
            )
            conn.execute(insert(s.model_versions), _VERSIONS.row(version))
            _history(
                conn, [StageChange(name, version.version, "register", None, NO_STAGE, user, now)]
            )
        return version

    # -- reading -------------------------------------------------------------

    def list_models(self) -> list[ModelSummary]:
        """Every registered model by name, with its newest version and stage holders."""
        mv = s.model_versions.c
        with self._read() as conn:
            models = conn.execute(
                select(s.registered_models).order_by(s.registered_models.c.name)
            ).all()
            latest = dict(
                conn.execute(select(mv.name, func.max(mv.version)).group_by(mv.name)).all()
            )
            held = conn.execute(
                select(mv.name, mv.stage, mv.version).where(mv.stage.not_in(_UNSHARED))
            ).all()
        stages: dict[str, dict[str, int]] = {}
        for row in held:
            stages.setdefault(row.name, {})[row.stage] = row.version
        return [
            ModelSummary(
                m.name,
                m.created_at,
                m.description,
                int(latest.get(m.name) or 0),
                stages.get(m.name, {}),
            )
            for m in models
        ]

    def model_versions(self, name: str) -> list[ModelVersion]:
        """The versions of a model, oldest first."""
        mv = s.model_versions.c
        with self._read() as conn:
            _require_model(conn, name)
            rows = conn.execute(
                select(s.model_versions).where(mv.name == name).order_by(mv.version)
            ).mappings()
            return [_version(r) for r in rows]

    def get_model_version(
        self, name: str, version: int | None = None, stage: str | None = None
    ) -> ModelVersion:
        """Version ``version``, or the (newest) one in ``stage``, or the newest of all."""
        with self._read() as conn:
            found: ModelVersion = _get_version(conn, name, version, stage)
        return found

    def model_history(self, name: str) -> list[StageChange]:
        """Every registration and stage change of a model, oldest first."""
        with self._read() as conn:
            _require_model(conn, name)
            return _load_history(conn, name)

    # -- stage changes -------------------------------------------------------

    def set_model_stage(
        self, name: str, version: int, stage: str, *, user: str
    ) -> list[StageChange]:
        """Move a version to ``stage``; the previous holder of a shared stage is archived."""
        now = time.time()
        mv = s.model_versions.c
        with self._write() as conn:
            target = _get_version(conn, name, version, None)
            if target.stage == stage:
                return []
            changes = []
            if stage not in _UNSHARED:
                holders = conn.execute(
                    select(mv.version).where(
                        mv.name == name, mv.stage == stage, mv.version != version
                    )
                ).scalars()
                changes += [
                    StageChange(name, v, "displace", stage, ARCHIVED, user, now) for v in holders
                ]
            changes.append(StageChange(name, version, "promote", target.stage, stage, user, now))
            _apply(conn, changes)
        return changes

    def rollback_model(self, name: str, *, user: str) -> list[StageChange]:
        """Production goes back to the version that held it before the current one."""
        now = time.time()
        with self._write() as conn:
            current = _get_version(conn, name, None, PRODUCTION, missing_ok=True)
            if current is None:
                raise FlowyError(
                    f"No version of model {name!r} is in production, so there is nothing to "
                    f"roll back. Promote one with `flowy model promote {name} VERSION --to "
                    "production`."
                )
            stack = [v for v in production_stack(_load_history(conn, name)) if v != current.version]
            if not stack:
                raise FlowyError(
                    f"Model {name!r} has had no production version before version "
                    f"{current.version}; there is nothing to roll back to."
                )
            previous = _get_version(conn, name, stack[-1], None)
            changes = [
                StageChange(name, current.version, "rollback", PRODUCTION, ARCHIVED, user, now),
                StageChange(
                    name, previous.version, "rollback", previous.stage, PRODUCTION, user, now
                ),
            ]
            _apply(conn, changes)
        return changes


def production_stack(history: list[StageChange]) -> list[int]:
    """Versions that held production, oldest first, with rolled-back ones popped."""
    stack: list[int] = []
    for change in history:
        if change.action == "rollback":
            if change.from_stage == PRODUCTION and change.version in stack:
                stack.remove(change.version)
            continue
        if change.to_stage == PRODUCTION:
            if change.version in stack:
                stack.remove(change.version)
            stack.append(change.version)
        elif (
            change.action == "promote"
            and change.from_stage == PRODUCTION
            and change.version in stack
        ):
            stack.remove(change.version)  # demoted by hand: a rollback must not bring it back
    return stack


def _apply(conn: Connection, changes: list[StageChange]) -> None:
    mv = s.model_versions.c
    for change in changes:
        conn.execute(
            update(s.model_versions)
            .where(mv.name == change.name, mv.version == change.version)
            .values(stage=change.to_stage)
        )
    _history(conn, changes)


def _history(conn: Connection, changes: list[StageChange]) -> None:
    conn.execute(
        insert(s.model_stage_history),
        [
            {
                "name": c.name,
                "version": c.version,
                "action": c.action,
                "from_stage": c.from_stage,
                "to_stage": c.to_stage,
                "user": c.user,
                "at": c.at,
            }
            for c in changes
        ],
    )


def _load_history(conn: Connection, name: str) -> list[StageChange]:
    h = s.model_stage_history.c
    rows = conn.execute(
        select(h.name, h.version, h.action, h.from_stage, h.to_stage, h.user, h.at)
        .where(h.name == name)
        .order_by(h.id)
    )
    return [StageChange(*row) for row in rows]


def _require_model(conn: Connection, name: str) -> None:
    found = conn.execute(
        select(s.registered_models.c.name).where(s.registered_models.c.name == name)
    ).first()
    if found is None:
        names = (
            conn.execute(
                select(s.registered_models.c.name).order_by(s.registered_models.c.name).limit(10)
            )
            .scalars()
            .all()
        )
        raise ModelNotFoundError(
            f"No model named {name!r} is registered. Registered: {', '.join(names) or 'none'}. "
            "Register one with `flowy model register NAME ARTIFACT_ID`."
        )


def _get_version(
    conn: Connection, name: str, version: int | None, stage: str | None, missing_ok: bool = False
) -> Any:
    mv = s.model_versions.c
    _require_model(conn, name)
    query = select(s.model_versions).where(mv.name == name)
    if version is not None:
        query = query.where(mv.version == version)
    elif stage is not None:
        query = query.where(mv.stage == stage)
    row = conn.execute(query.order_by(mv.version.desc()).limit(1)).mappings().first()
    if row is None:
        if missing_ok:
            return None
        if version is not None:
            what, hint = f"version {version}", ""
        else:
            what = f"version in stage {stage!r}"
            hint = f"; put one there with `flowy model promote {name} VERSION --to {stage}`"
        raise ModelNotFoundError(
            f"Model {name!r} has no {what}. See its versions with "
            f"`flowy model versions {name}`{hint}."
        )
    return _version(row)


#: Model versions to rows and back.
_VERSIONS = _rows.RowMap(ModelVersion, "model_versions")


def _version(row: Any) -> ModelVersion:
    version: ModelVersion = _VERSIONS.record(row)
    return version
