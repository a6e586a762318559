"""Sending alert changes to notifiers: build, retry with backoff, record every outcome.

A notifier is a plugin component (kind ``notifier``, registered through the
``flowy_register_notifiers`` hook; flowy-notifiers ships ``webhook``,
``slack``, ``discord`` and ``email``) built from the project's
``[notifiers.NAME]`` table, whose ``{env:NAME}`` references are resolved here
so secrets stay out of the file. Each (alert event, notifier) pair is one
delivery: up to ``attempts`` tries, waiting ``backoff * 2**n`` seconds between
them while the notifier says a retry may help, then one ``alert_deliveries``
row (sent or failed, attempts, error). Notifiers run in parallel threads, so a
notifier that is down delays a run's end by its own timeout, not the sum.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from flowy.alerts.settings import AlertConfig
from flowy.kernel.alerting import (
    FAILED,
    SENT,
    AlertRecord,
    Delivery,
    DeliveryError,
    DeliveryRecord,
    Notifier,
    alert_log,
)
from flowy.kernel.errors import ConfigError

#: Seconds before the second attempt; doubled for each later one.
BACKOFF = 0.5


@attrs.define
class Outcome:
    """How one delivery ended."""

    notifier: str
    event: str
    status: str
    attempts: int
    error: str | None = None


def build_notifier(
    name: str, config: AlertConfig, *, plugins: Any = None, project: Path | None = None
) -> Notifier:
    """The notifier configured as ``[notifiers.NAME]``, or a ConfigError saying why not."""
    from flowy.kernel.config import project_root
    from flowy.stacks.refs import substitute

    table = config.notifiers.get(name)
    if table is None:
        raise ConfigError(
            f"No notifier named {name!r} in {config.path}. Notifiers: "
            f"{', '.join(config.notifiers) or 'none'}; add a [notifiers.{name}] table."
        )
    options = dict(table)
    kind = options.pop("type")
    attempts = int(options.pop("attempts", 3))
    backoff = float(options.pop("backoff", BACKOFF))
    where = f"Notifier {name!r} in {config.path}"
    options = substitute(options, project or project_root(), where)
    if plugins is None:
        from flowy.kernel.plugins import create_plugin_manager

        plugins = create_plugin_manager()
    registration = plugins.registry.get("notifier", kind)
    cls = registration.load()
    try:
        notifier: Notifier = cls(name, **options)
    except TypeError as exc:
        raise ConfigError(f"{where} (type {kind!r}) has a bad option: {exc}") from exc
    notifier.attempts, notifier.backoff = attempts, backoff
    return notifier


def send_one(notifier: Notifier, delivery: Delivery) -> Outcome:
    """Deliver with retries; never raises."""
    backoff = float(getattr(notifier, "backoff", BACKOFF))
    attempts = 0
    error: str | None = None
    for attempt in range(max(1, notifier.attempts)):
        attempts = attempt + 1
        try:
            notifier.send(delivery)
            return Outcome(notifier.name, delivery.event, SENT, attempts)
        except DeliveryError as exc:
            error = str(exc)
            if not exc.retryable:
                break
        except Exception as exc:  # noqa: BLE001 - a broken notifier is a failed delivery
            error = f"{type(exc).__name__}: {exc}"
            break
        if attempts < notifier.attempts:
            time.sleep(backoff * 2**attempt)
    warnings.warn(
        f"alert {delivery.alert.rule!r} ({delivery.event}) was not delivered by notifier "
        f"{notifier.name!r} after {attempts} attempt(s): {error}",
        RuntimeWarning,
        stacklevel=2,
    )
    return Outcome(notifier.name, delivery.event, FAILED, attempts, error)


def send_changes(
    store: Any,
    config: AlertConfig,
    changes: Sequence[Any],
    *,
    plugins: Any = None,
    project: Path | None = None,
) -> list[Outcome]:
    """Send every change to its rule's notifiers in parallel; record each delivery."""
    jobs: list[tuple[str, AlertRecord, str]] = []
    for change in changes:
        try:
            rule = config.rule(change.alert.rule)
        except ConfigError:
            continue
        jobs += [(n, change.alert, change.event) for n in config.notifiers_for(rule)]
    return deliver_all(store, config, jobs, plugins=plugins, project=project)


def deliver_all(
    store: Any,
    config: AlertConfig,
    jobs: Sequence[tuple[str, AlertRecord, str]],
    *,
    plugins: Any = None,
    project: Path | None = None,
) -> list[Outcome]:
    """(notifier name, alert, event) deliveries, in parallel threads, each recorded."""
    built: dict[str, Notifier | Outcome] = {}
    for name, _alert, event in jobs:
        if name not in built:
            try:
                built[name] = build_notifier(name, config, plugins=plugins, project=project)
            except Exception as exc:  # noqa: BLE001 - recorded as a failed delivery
                built[name] = Outcome(name, event, FAILED, 0, f"{type(exc).__name__}: {exc}")
                warnings.warn(
                    f"notifier {name!r} cannot be built: {exc}", RuntimeWarning, stacklevel=2
                )
    outcomes: list[Outcome | None] = [None] * len(jobs)

    def work(i: int, notifier: Notifier, delivery: Delivery) -> None:
        outcomes[i] = send_one(notifier, delivery)

    threads = []
    for i, (name, alert, event) in enumerate(jobs):
        target = built[name]
        if isinstance(target, Outcome):
            outcomes[i] = attrs.evolve(target, event=event)
            continue
        delivery = Delivery(alert, event, config.link(alert.run_id))
        thread = threading.Thread(target=work, args=(i, target, delivery), daemon=True)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
    done = [o for o in outcomes if o is not None]
    _record(store, jobs, done)
    return done


def _record(
    store: Any, jobs: Sequence[tuple[str, AlertRecord, str]], outcomes: list[Outcome]
) -> None:
    pairs = [(a, o) for (_n, a, _e), o in zip(jobs, outcomes, strict=True) if a.id is not None]
    if not pairs or store is None:  # test messages: no incident to attach them to
        return
    alerts = alert_log(store)
    now = time.time()
    for alert, outcome in pairs:
        assert alert.id is not None
        try:
            alerts.record_delivery(
                DeliveryRecord(
                    alert.id,
                    outcome.notifier,
                    outcome.event,
                    outcome.status,
                    outcome.attempts,
                    now,
                    outcome.error,
                )
            )
        except Exception as exc:  # noqa: BLE001 - the delivery happened; its row is lost
            warnings.warn(
                f"recording a delivery of alert {alert.id} failed: {exc}",
                RuntimeWarning,
                stacklevel=2,
            )
