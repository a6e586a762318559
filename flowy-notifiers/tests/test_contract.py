"""flowy.testing.NotifierContract for each notifier of flowy-notifiers, against real servers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flowy.testing.notifier import NotifierContract, closed_port

PLUGINS = [("flowy-notifiers", "flowy_notifiers.plugin")]


class _OverHttp(NotifierContract):
    plugins = PLUGINS

    @pytest.fixture
    def server(self, receive: Any) -> Iterator[Any]:
        with receive() as server:
            yield server

    @pytest.fixture
    def options(self, server: Any) -> dict[str, Any]:
        return {"url": server.url, "timeout": 10}

    @pytest.fixture
    def received(self, server: Any) -> Callable[[], int]:
        return lambda: len(server.requests)


class TestWebhookContract(_OverHttp):
    name = "webhook"


class TestSlackContract(_OverHttp):
    name = "slack"


class TestDiscordContract(_OverHttp):
    name = "discord"


@pytest.mark.slow
class TestEmailContract(NotifierContract):
    plugins = PLUGINS
    name = "email"

    @pytest.fixture
    def server(self, smtp: Any) -> Any:
        return smtp

    @pytest.fixture
    def options(self, server: Any) -> dict[str, Any]:
        port, cert, _inbox = server
        return {
            "host": "127.0.0.1", "port": port, "sender": "flowy@example.com",
            "to": "ops@example.com", "cafile": str(cert), "timeout": 10,
        }  # fmt: skip

    @pytest.fixture
    def received(self, server: Any) -> Callable[[], int]:
        return lambda: len(server[2].messages)

    def unreachable_options(self) -> dict[str, Any]:
        return {"port": closed_port()}
