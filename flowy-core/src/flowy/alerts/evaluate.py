"""Evaluating rules into the store: one alert per rule and subject per incident.

A finding that fires where no alert of its rule and subject is firing opens
one (:meth:`~flowy.kernel.alerting.AlertLog.fire_alert`, atomic, so two runs
ending together open one); a clear finding resolves an open one. Only those
two changes are sent to notifiers: a rule that keeps firing run after run is
reported once, and once more when it clears.

Neither entry point raises: evaluation runs after the run's record is final,
and an alert that cannot be evaluated must not turn a completed run into a
failed one (nor stop the scheduler). Failures are logged and warned about.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from flowy.alerts import kinds
from flowy.kernel.alerting import FIRING, RESOLVED, AlertLog, AlertRecord, alert_log
from flowy.kernel.records import RunRecord, StepRunRecord

if TYPE_CHECKING:
    from flowy.alerts.settings import AlertConfig, NamedRule

log = logging.getLogger("flowy.alerts")


class AlertChange:
    """An alert that fired or resolved during one evaluation (a plain class: see kinds)."""

    __slots__ = ("alert", "event")

    def __init__(self, event: str, alert: AlertRecord) -> None:
        self.event = event
        """``firing`` or ``resolved``."""
        self.alert = alert

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AlertChange) and (other.event, other.alert) == (
            self.event,
            self.alert,
        )

    def __hash__(self) -> int:
        return hash((self.event, self.alert.rule, self.alert.subject))

    def __repr__(self) -> str:
        return f"AlertChange({self.event!r}, {self.alert.rule!r}, {self.alert.subject!r})"


def evaluate_run_end(
    store: Any,
    run: RunRecord,
    records: Mapping[str, StepRunRecord],
    project: Path | None = None,
    plugins: Any = None,
) -> list[AlertChange]:
    """Evaluate every rule that applies to ``run`` (just finished); never raises."""
    try:
        from flowy.alerts.config import load_alert_config

        config = load_alert_config(project)
        if not config.rules:
            return []
        alerts = alert_log(store)
        facts = kinds.RunFacts(store, alerts, run, run.status, records)
        findings: list[tuple[NamedRule, kinds.Finding]] = []
        for rule in config.rules:
            spec = rule.spec
            if spec.pipeline not in (None, run.pipeline):
                continue
            try:
                if spec.kind == "freshness":
                    findings.append((rule, kinds.freshness(spec, alerts, run.finished_at)))
                else:
                    findings += [(rule, f) for f in kinds.RUN_END_CHECKS[spec.kind](spec, facts)]
            except Exception as exc:  # noqa: BLE001 - one rule's failure spares the others
                _failed(f"alert rule {rule.name!r}", exc)
        changes = apply(alerts, config, findings, now=run.finished_at)
        deliver(store, config, changes, plugins=plugins, project=project)
        return changes
    except Exception as exc:  # noqa: BLE001 - alerts never fail the run
        _failed(f"alerts for run {run.run_id}", exc)
        return []


def evaluate_freshness(
    store: Any,
    now: float | None = None,
    *,
    project: Path | None = None,
    plugins: Any = None,
) -> list[AlertChange]:
    """Check every freshness rule against the clock (the scheduler calls this each tick).

    Returns the alerts that fired or resolved (already recorded and sent); never raises.
    """
    try:
        from flowy.alerts.config import load_alert_config

        config = load_alert_config(project)
        rules = [r for r in config.rules if r.spec.kind == "freshness"]
        if not rules:
            return []
        alerts = alert_log(store)
        now = time.time() if now is None else now
        findings = [(rule, kinds.freshness(rule.spec, alerts, now)) for rule in rules]
        changes = apply(alerts, config, findings, now=now)
        deliver(store, config, changes, plugins=plugins, project=project)
        return changes
    except Exception as exc:  # noqa: BLE001 - a scheduler tick must survive it
        _failed("freshness alerts", exc)
        return []


def apply(
    alerts: AlertLog,
    config: AlertConfig,
    findings: Iterable[tuple[NamedRule, kinds.Finding]],
    *,
    now: float | None = None,
) -> list[AlertChange]:
    """Open and resolve incidents for ``findings``; the changes, in order."""
    findings = list(findings)
    if not findings:
        return []
    now = time.time() if now is None else now
    open_ = {(a.rule, a.subject): a for a in alerts.firing_alerts()}
    changes: list[AlertChange] = []
    for rule, finding in findings:
        current = open_.get((rule.name, finding.subject))
        if finding.firing and current is None:
            record = _record(rule, finding, now)
            fired = alerts.fire_alert(record)
            if fired is not None:
                open_[(rule.name, finding.subject)] = fired
                changes.append(AlertChange(FIRING, fired))
        elif (
            not finding.firing
            and current is not None
            and current.id is not None
            and alerts.resolve_alert(current.id, now, finding.message)
        ):
            resolved = attrs.evolve(
                current, status=RESOLVED, resolved_at=now, updated_at=now, message=finding.message
            )
            del open_[(rule.name, finding.subject)]
            changes.append(AlertChange(RESOLVED, resolved))
    return changes


def _record(rule: NamedRule, finding: kinds.Finding, now: float) -> AlertRecord:
    return AlertRecord(
        rule=rule.name,
        kind=rule.spec.kind,
        subject=finding.subject,
        status=FIRING,
        severity=rule.spec.severity,
        message=finding.message,
        fired_at=now,
        updated_at=now,
        pipeline=finding.pipeline,
        run_id=finding.run_id,
        step=finding.step,
        artifact_id=finding.artifact_id,
        model=finding.model,
        model_version=finding.model_version,
        details=finding.details,
    )


def deliver(
    store: Any,
    config: AlertConfig,
    changes: list[AlertChange],
    *,
    plugins: Any = None,
    project: Path | None = None,
) -> None:
    """Send each change to its rule's notifiers (nothing is imported when there is none)."""
    if not changes or not config.notifiers:
        return
    from flowy.alerts.notify import send_changes

    send_changes(store, config, changes, plugins=plugins, project=project)


def _failed(what: str, exc: BaseException) -> None:
    message = f"evaluating {what} failed: {type(exc).__name__}: {exc}"
    log.debug(message, exc_info=exc)  # the traceback, for whoever configures logging
    warnings.warn(message, RuntimeWarning, stacklevel=3)  # what `flowy run` shows
