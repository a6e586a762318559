"""Retention: which runs ``flowy gc`` may delete.

Two settings (``flowy config set``, see docs/configuration.md), each off when
unset, and ``flowy gc --keep-last/--keep-days`` override them:

* ``keep_last_runs = N``: the N newest runs of each pipeline are kept;
* ``keep_days = D``: runs started less than D days ago are kept.

A run is kept when *any* rule that is set keeps it (so with both, a run goes
only once it is both old and not among its pipeline's newest N). Whatever the
rules say, these are never deleted here:

* a run that is still running;
* a run that holds a registered model version's artifact (the registry is
  the user saying "keep this"), and
* a run whose artifacts another, kept run uses (consumed or re-used from the
  cache); it goes once that run goes.

The last two are decided by the metadata store's refusal (``delete_runs``
without ``force``), so the rule is the same one ``flowy runs delete`` applies.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import attrs

from flowy.kernel.records import RUNNING

if TYPE_CHECKING:
    from flowy.kernel.records import RunRecord

DAY = 86_400.0


@attrs.frozen
class Retention:
    """The two rules; ``None`` turns a rule off. With both off nothing expires."""

    keep_last_runs: int | None = None
    keep_days: float | None = None

    @property
    def active(self) -> bool:
        return self.keep_last_runs is not None or self.keep_days is not None

    @classmethod
    def from_settings(
        cls,
        settings: dict[str, Any],
        keep_last_runs: int | None = None,
        keep_days: float | None = None,
    ) -> Retention:
        """The settings' rules, each overridden by an explicit value."""
        last = keep_last_runs if keep_last_runs is not None else settings.get("keep_last_runs")
        days = keep_days if keep_days is not None else settings.get("keep_days")
        return cls(
            None if last is None else int(last),
            None if days is None else float(days),
        )

    def describe(self) -> str:
        parts = []
        if self.keep_last_runs is not None:
            parts.append(f"the {self.keep_last_runs} newest runs of each pipeline")
        if self.keep_days is not None:
            parts.append(f"runs newer than {self.keep_days:g} days")
        return "keep " + " and ".join(parts) if parts else "keep every run"


def expired_runs(
    runs: Iterable[RunRecord], retention: Retention, now: float | None = None
) -> list[RunRecord]:
    """The runs no rule keeps (oldest first); running runs are never expired."""
    if not retention.active:
        return []
    now = time.time() if now is None else now
    seen: dict[str, int] = {}
    expired: list[RunRecord] = []
    newest_first = sorted(runs, key=lambda r: (r.started_at, r.run_id), reverse=True)
    for run in newest_first:
        rank = seen.get(run.pipeline, 0)
        seen[run.pipeline] = rank + 1
        if run.status == RUNNING:
            continue
        kept_by_count = retention.keep_last_runs is not None and rank < retention.keep_last_runs
        kept_by_age = (
            retention.keep_days is not None and now - run.started_at < retention.keep_days * DAY
        )
        if not (kept_by_count or kept_by_age):
            expired.append(run)
    expired.reverse()
    return expired
