"""The contract every notifier (``flowy_register_notifiers``) passes.

A plugin subclasses :class:`NotifierContract`, names its plugin and notifier
type, and provides two fixtures: ``options`` (the ``[notifiers.NAME]`` options
of a notifier that reaches a real receiver the test started) and ``received``
(a function returning how many messages that receiver has got so far)::

    class TestWebhook(NotifierContract):
        plugins = [("flowy-notifiers", "flowy_notifiers.plugin")]
        name = "webhook"

        @pytest.fixture
        def options(self, server):
            return {"url": server.url}

        @pytest.fixture
        def received(self, server):
            return lambda: len(server.requests)

The suite builds the notifier the way a run does (from a validated table,
through the registry) and checks that it is found, that each event arrives,
that a destination that does not answer is a failed delivery after the
configured attempts (never an exception out of the notifier), and that an
unknown option is a ConfigError naming the notifier.
"""

from __future__ import annotations

import importlib
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest

from flowy.alerts.notify import build_notifier, send_one
from flowy.alerts.rules import validate
from flowy.kernel.alerting import AlertRecord, Delivery, Notifier
from flowy.kernel.errors import ConfigError
from flowy.kernel.plugins import FlowyPlugins, create_plugin_manager


def closed_port() -> int:
    """A local TCP port nothing listens on (for an unreachable destination)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sample_alert() -> AlertRecord:
    now = time.time()
    return AlertRecord(
        "contract", "run_failed", "pipeline", "firing", "error", "the contract's alert",
        now, now, pipeline="pipeline", run_id="run-1", step="step", id=1,
    )  # fmt: skip


class NotifierContract:
    """Subclass with ``plugins``, ``name`` and the ``options`` and ``received`` fixtures."""

    plugins: ClassVar[list[tuple[str, str]]] = []
    name: ClassVar[str] = ""
    #: Options that point the notifier at nothing (a closed local port), per type.
    unreachable: ClassVar[dict[str, Any]] = {}

    @pytest.fixture
    def flowy_plugins(self) -> FlowyPlugins:
        return create_plugin_manager(
            entrypoints=False,
            plugins=[(dist, importlib.import_module(module)) for dist, module in self.plugins],
        )

    def build(
        self, options: dict[str, Any], plugins: FlowyPlugins, folder: Path, **extra: Any
    ) -> Notifier:
        table = {"type": self.name, **options, **extra}
        config = validate({"notifiers": {"under-test": table}}, folder / "config.toml")
        return build_notifier("under-test", config, plugins=plugins, project=folder)

    def test_it_is_registered_as_a_notifier(self, flowy_plugins: FlowyPlugins) -> None:
        cls = flowy_plugins.registry.get("notifier", self.name).load()
        assert isinstance(cls, type) and issubclass(cls, Notifier)

    def test_every_event_arrives(
        self,
        options: dict[str, Any],
        received: Callable[[], int],
        flowy_plugins: FlowyPlugins,
        tmp_path: Path,
    ) -> None:
        notifier = self.build(options, flowy_plugins, tmp_path)
        before = received()
        for event in ("firing", "resolved", "test"):
            outcome = send_one(notifier, Delivery(sample_alert(), event, "http://ui/runs/run-1"))
            assert outcome.status == "sent", outcome.error
        deadline = time.monotonic() + 30
        while received() < before + 3:
            assert time.monotonic() < deadline, "the receiver did not get all three events"
            time.sleep(0.02)

    def test_an_unreachable_destination_is_a_failed_delivery(
        self, options: dict[str, Any], flowy_plugins: FlowyPlugins, tmp_path: Path
    ) -> None:
        unreachable = {**options, **self.unreachable_options()}
        notifier = self.build(unreachable, flowy_plugins, tmp_path, attempts=2, backoff=0)
        outcome = send_one(notifier, Delivery(sample_alert(), "firing"))
        assert outcome.status == "failed" and outcome.error
        assert outcome.attempts == 2  # a connection refused may pass: it was retried

    def test_an_unknown_option_names_the_notifier(
        self, options: dict[str, Any], flowy_plugins: FlowyPlugins, tmp_path: Path
    ) -> None:
        with pytest.raises(ConfigError, match="under-test"):
            self.build(options, flowy_plugins, tmp_path, no_such_option_of_any_notifier=1)

    def unreachable_options(self) -> dict[str, Any]:
        """Options that send to a closed port: ``url`` by default (override for others)."""
        return {"url": f"http://127.0.0.1:{closed_port()}/hook", **self.unreachable}
