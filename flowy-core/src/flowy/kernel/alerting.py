"""What a metadata store offers for alerts, and what a notifier is.

A capability of its own (like :class:`~flowy.kernel.catalog.Catalog`), so a
store that only records runs stays valid: :func:`alert_log` checks for
:class:`AlertLog` and says plainly when the stack's store lacks it. The SQL
stores (flowy-store-sqlite) implement it.

* An **alert** (:class:`AlertRecord`) is one incident: a rule's condition
  held for one *subject* (a pipeline, ``pipeline/step``, a metric, a feature
  set). While it is ``firing`` the store keeps exactly one row per rule and
  subject (:meth:`AlertLog.fire_alert` is check-and-insert in one write
  transaction, so two runs ending together agree); when the condition clears
  it becomes ``resolved`` (:meth:`AlertLog.resolve_alert`).
* A **delivery** (:class:`DeliveryRecord`) is what happened when a notifier
  was told about an alert firing, resolving, or a test: sent or failed, after
  how many attempts, with the error.
* A **notifier** (:class:`Notifier`) is a plugin component registered through
  the ``flowy_register_notifiers`` hook and built from a project's
  ``[notifiers.NAME]`` table.
"""

from __future__ import annotations

import abc
from typing import Any

import attrs

from flowy.kernel.errors import ConfigError

FIRING = "firing"
RESOLVED = "resolved"
#: Delivery outcomes.
SENT = "sent"
FAILED = "failed"
#: What a delivery was about.
EVENTS = (FIRING, RESOLVED, "test")


@attrs.define
class AlertRecord:
    """One alert incident: a rule's condition holding for one subject."""

    rule: str
    kind: str
    subject: str
    status: str
    severity: str
    message: str
    fired_at: float
    updated_at: float
    pipeline: str | None = None
    run_id: str | None = None
    step: str | None = None
    artifact_id: str | None = None
    model: str | None = None
    model_version: int | None = None
    details: dict[str, Any] = attrs.field(factory=dict)
    resolved_at: float | None = None
    id: int | None = None


@attrs.define
class DeliveryRecord:
    """One notifier's attempt(s) at delivering one alert event."""

    alert_id: int
    notifier: str
    event: str
    status: str
    attempts: int
    at: float
    error: str | None = None
    id: int | None = None


class AlertLog(abc.ABC):
    """Alert incidents and their deliveries, plus the history reads that rules need."""

    @abc.abstractmethod
    def firing_alerts(self) -> list[AlertRecord]:
        """Every alert now firing (one query: evaluation reads them once)."""

    @abc.abstractmethod
    def fire_alert(self, alert: AlertRecord) -> AlertRecord | None:
        """Record ``alert`` as firing unless one of its rule and subject already fires.

        Returns the new record (with its id), or None when an incident was already
        open: the check and the insert are one write transaction.
        """

    @abc.abstractmethod
    def resolve_alert(self, alert_id: int, at: float, message: str) -> bool:
        """Mark a firing alert resolved; False when another process resolved it first."""

    @abc.abstractmethod
    def list_alerts(self, *, include_resolved: bool = False, limit: int = 200) -> list[AlertRecord]:
        """Alerts, firing first then newest first."""

    @abc.abstractmethod
    def record_delivery(self, delivery: DeliveryRecord) -> int:
        """Append a delivery row; its id."""

    @abc.abstractmethod
    def alert_deliveries(
        self, alert_id: int | None = None, *, status: str | None = None, limit: int = 500
    ) -> list[DeliveryRecord]:
        """Deliveries of one alert (or all), newest first, optionally by status."""

    # -- history that rules compare against -----------------------------------

    @abc.abstractmethod
    def recent_durations(
        self, pipeline: str, step: str | None, *, limit: int, exclude_run: str | None = None
    ) -> list[float]:
        """Seconds taken by the newest ``limit`` completed runs (or step runs), newest first."""

    @abc.abstractmethod
    def last_successful_run(
        self, pipeline: str, *, before: float | None = None, exclude_run: str | None = None
    ) -> tuple[str, float] | None:
        """(run id, finished_at) of a pipeline's newest completed run, or None."""

    @abc.abstractmethod
    def production_model(self, name: str) -> tuple[int, str] | None:
        """(version, run id) of the model's version in production, or None.

        The registry's own read (:meth:`~flowy.kernel.catalog.Catalog.get_model_version`)
        may open a heavier store; rules only need these two values.
        """

    @abc.abstractmethod
    def run_model_version(self, name: str, run_id: str) -> int | None:
        """The newest version of model ``name`` that run ``run_id`` registered, or None."""


@attrs.define
class Delivery:
    """What a notifier is asked to send: the alert and the event (firing, resolved, test)."""

    alert: AlertRecord
    event: str
    link: str | None = None

    @property
    def title(self) -> str:
        state = {"firing": "FIRING", "resolved": "RESOLVED", "test": "TEST"}[self.event]
        return f"[{state}] {self.alert.rule}: {self.alert.subject}"

    def payload(self) -> dict[str, Any]:
        """The JSON body the generic webhook posts (also what tests and docs show)."""
        a = self.alert
        return {
            "event": self.event,
            "title": self.title,
            "rule": a.rule,
            "kind": a.kind,
            "subject": a.subject,
            "status": a.status,
            "severity": a.severity,
            "message": a.message,
            "pipeline": a.pipeline,
            "run_id": a.run_id,
            "step": a.step,
            "artifact_id": a.artifact_id,
            "model": a.model,
            "model_version": a.model_version,
            "details": a.details,
            "fired_at": a.fired_at,
            "resolved_at": a.resolved_at,
            "alert_id": a.id,
            "link": self.link,
        }

    def text(self) -> str:
        """Plain text for chat and email: the title, message, what it is about, the link."""
        a = self.alert
        about = [
            f"{label}: {value}"
            for label, value in (
                ("pipeline", a.pipeline),
                ("run", a.run_id),
                ("step", a.step),
                ("artifact", a.artifact_id),
                ("model", f"{a.model} v{a.model_version}" if a.model else None),
            )
            if value is not None
        ]
        lines = [self.title, a.message, *about]
        if self.link:
            lines.append(self.link)
        return "\n".join(lines)


class Notifier(abc.ABC):
    """Sends alert messages somewhere. Built from a ``[notifiers.NAME]`` table's options.

    ``send`` makes one attempt and raises on failure; the caller retries the
    ones that say they may be retried (:class:`DeliveryError` ``retryable``)
    and records the outcome, so a notifier never fails a run.
    """

    #: Attempts (the first included) for a retryable failure; options may override.
    attempts: int = 3
    #: Seconds before the second attempt, doubled before each later one.
    backoff: float = 0.5

    def __init__(self, name: str, **options: Any) -> None:
        self.name = name
        self.options = options

    @abc.abstractmethod
    def send(self, delivery: Delivery) -> None:
        """Deliver once, or raise :class:`DeliveryError` (or any exception) saying why."""


class DeliveryError(Exception):
    """A notifier's attempt failed; ``retryable`` says whether trying again may help."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


def alert_log(store: Any) -> AlertLog:
    """``store`` as an :class:`AlertLog`, or a ConfigError saying its stack lacks alerts."""
    if isinstance(store, AlertLog):
        return store
    raise ConfigError(
        f"The metadata store {type(store).__name__} does not record alerts (it lacks the "
        "AlertLog capability). Use a stack whose metadata store is 'sqlite' or 'sql' "
        "(flowy-store-sqlite), or install a store plugin that records alerts."
    )
