"""The webhook, Slack and Discord notifiers against a real HTTP server on 127.0.0.1.

Each notifier is built the way a run builds it: from a ``[notifiers.NAME]`` table
through the registry (``flowy.alerts.notify.build_notifier``), ``{env:}`` resolved.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from pathlib import Path
from typing import Any

import pytest
from flowy.alerts.notify import build_notifier, deliver_all, send_one
from flowy.alerts.rules import validate
from flowy.kernel.alerting import AlertRecord, Delivery
from flowy.kernel.errors import ConfigError
from flowy_notifiers.webhook import verify


def _alert(**extra: Any) -> AlertRecord:
    now = time.time()
    base: dict[str, Any] = {
        "rule": "train-failed",
        "kind": "run_failed",
        "subject": "train",
        "status": "firing",
        "severity": "error",
        "message": "Run abc of pipeline 'train' failed in step 'fit': boom",
        "fired_at": now,
        "updated_at": now,
        "pipeline": "train",
        "run_id": "abc123",
        "step": "fit",
        "artifact_id": "f00d",
        "model": "churn",
        "model_version": 3,
        "id": 7,
    }
    return AlertRecord(**{**base, **extra})


def _config(tmp_path: Path, **notifiers: dict[str, Any]) -> Any:
    data = {"ui_url": "http://ui.example:8080", "notifiers": notifiers}
    return validate(data, tmp_path / "config.toml")


def test_webhook_posts_signed_json_the_receiver_verifies(
    tmp_path: Path, plugins: Any, receive: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_SECRET", "s3cret-value")
    with receive() as server:
        config = _config(
            tmp_path, ops={"type": "webhook", "url": server.url, "secret": "{env:HOOK_SECRET}"}
        )
        notifier = build_notifier("ops", config, plugins=plugins, project=tmp_path)
        outcome = send_one(notifier, Delivery(_alert(), "firing", config.link("abc123")))
        assert outcome.status == "sent" and outcome.attempts == 1
        (req,) = server.wait_for(1)
    timestamp = req.headers["X-Flowy-Timestamp"]
    expected = hmac.new(b"s3cret-value", timestamp.encode() + b"." + req.body, hashlib.sha256)
    assert req.headers["X-Flowy-Signature"] == "sha256=" + expected.hexdigest()
    assert verify("s3cret-value", timestamp, req.body, req.headers["X-Flowy-Signature"])
    assert not verify("wrong", timestamp, req.body, req.headers["X-Flowy-Signature"])
    assert not verify("s3cret-value", timestamp, req.body + b" ", req.headers["X-Flowy-Signature"])
    body = req.json()
    assert body["event"] == "firing" and body["rule"] == "train-failed"
    assert (body["run_id"], body["step"], body["artifact_id"]) == ("abc123", "fit", "f00d")
    assert (body["model"], body["model_version"]) == ("churn", 3)
    assert body["link"] == "http://ui.example:8080/runs/abc123"
    assert req.headers["Content-Type"] == "application/json"


def test_500s_are_retried_with_backoff_until_the_receiver_accepts(
    tmp_path: Path, plugins: Any, receive: Any
) -> None:
    with receive([500, 503]) as server:
        config = _config(
            tmp_path, ops={"type": "webhook", "url": server.url, "attempts": 3, "backoff": 0.05}
        )
        notifier = build_notifier("ops", config, plugins=plugins, project=tmp_path)
        outcome = send_one(notifier, Delivery(_alert(), "firing"))
        requests = server.wait_for(3)
    assert (outcome.status, outcome.attempts) == ("sent", 3)
    assert len(requests) == 3
    assert len({r.body for r in requests}) == 1  # the same alert each time


def test_a_receiver_that_keeps_failing_is_a_failed_delivery_with_the_reason(
    tmp_path: Path, plugins: Any, receive: Any
) -> None:
    with receive([500, 500, 500, 500]) as server:
        config = _config(
            tmp_path, ops={"type": "webhook", "url": server.url, "attempts": 2, "backoff": 0}
        )
        notifier = build_notifier("ops", config, plugins=plugins, project=tmp_path)
        outcome = send_one(notifier, Delivery(_alert(), "firing"))
        assert len(server.wait_for(2)) == 2
    assert (outcome.status, outcome.attempts) == ("failed", 2)
    assert "HTTP 500" in (outcome.error or "")


def test_a_4xx_is_not_retried(tmp_path: Path, plugins: Any, receive: Any) -> None:
    with receive([404]) as server:
        config = _config(tmp_path, ops={"type": "webhook", "url": server.url, "backoff": 0})
        notifier = build_notifier("ops", config, plugins=plugins, project=tmp_path)
        outcome = send_one(notifier, Delivery(_alert(), "firing"))
    assert (outcome.status, outcome.attempts) == ("failed", 1)
    assert len(server.requests) == 1 and "HTTP 404" in (outcome.error or "")


def test_a_redirect_is_not_followed(tmp_path: Path, plugins: Any, receive: Any) -> None:
    with receive([302]) as server:
        config = _config(tmp_path, ops={"type": "webhook", "url": server.url, "backoff": 0})
        notifier = build_notifier("ops", config, plugins=plugins, project=tmp_path)
        outcome = send_one(notifier, Delivery(_alert(), "firing"))
    assert (outcome.status, outcome.attempts) == ("failed", 1)
    assert "HTTP 302" in (outcome.error or "") and len(server.requests) == 1


def test_the_timeout_is_honoured_against_a_server_that_stalls(
    tmp_path: Path, plugins: Any, receive: Any
) -> None:
    with receive(stall=True) as server:
        config = _config(
            tmp_path,
            ops={"type": "webhook", "url": server.url, "timeout": 0.3, "attempts": 2, "backoff": 0},
        )
        notifier = build_notifier("ops", config, plugins=plugins, project=tmp_path)
        outcome = send_one(notifier, Delivery(_alert(), "firing"))
        # the notifier gave up on its own: the server still holds both requests
        assert not server.release.is_set()
        assert len(server.wait_for(2)) == 2
    assert (outcome.status, outcome.attempts) == ("failed", 2)
    assert "did not answer within 0.3s" in (outcome.error or "")


def test_slack_and_discord_payload_shapes(tmp_path: Path, plugins: Any, receive: Any) -> None:
    with receive() as slack, receive() as discord:
        config = _config(
            tmp_path,
            chat={"type": "slack", "url": slack.url},
            game={"type": "discord", "url": discord.url},
        )
        alert = _alert()
        outcomes = deliver_all(
            None, config, [("chat", alert, "firing"), ("game", alert, "resolved")], plugins=plugins
        )
        assert [o.status for o in outcomes] == ["sent", "sent"]
        s = slack.wait_for(1)[0].json()
        d = discord.wait_for(1)[0].json()
    assert s["text"].startswith("[FIRING] train-failed: train")
    assert [b["type"] for b in s["blocks"]][:2] == ["header", "section"]
    assert s["blocks"][1]["text"] == {"type": "mrkdwn", "text": alert.message}
    fields = " ".join(f["text"] for f in s["blocks"][2]["fields"])
    assert "*Run:* abc123" in fields and "*Model:* churn v3" in fields
    assert s["blocks"][-1]["elements"][0]["text"] == "http://ui.example:8080/runs/abc123"
    assert d["content"] == "[RESOLVED] train-failed: train"
    (embed,) = d["embeds"]
    assert embed["title"] == d["content"] and embed["description"] == alert.message
    assert embed["url"] == "http://ui.example:8080/runs/abc123"
    assert embed["color"] == 0x2DA44E
    assert {"name": "Step", "value": "fit", "inline": True} in embed["fields"]


def test_a_missing_env_secret_or_a_bad_option_is_a_config_error(
    tmp_path: Path, plugins: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_SUCH_SECRET", raising=False)
    config = _config(
        tmp_path,
        a={"type": "webhook", "url": "http://127.0.0.1:1/x", "secret": "{env:NO_SUCH_SECRET}"},
        b={"type": "webhook", "url": "ftp://example.com"},
        c={"type": "webhook", "url": "http://127.0.0.1:1/x", "colour": "red"},
        d={"type": "pager"},
        e={"type": "webhook", "url": "http://127.0.0.1:1/x", "headers": ["X-A: 1"]},
    )
    with pytest.raises(ConfigError, match="NO_SUCH_SECRET, which is not set"):
        build_notifier("a", config, plugins=plugins, project=tmp_path)
    with pytest.raises(ConfigError, match="url must be an http"):
        build_notifier("b", config, plugins=plugins, project=tmp_path)
    with pytest.raises(ConfigError, match="Notifier 'c'.*colour"):
        build_notifier("c", config, plugins=plugins, project=tmp_path)
    with pytest.raises(ConfigError, match="headers must be a table"):
        build_notifier("e", config, plugins=plugins, project=tmp_path)
    with pytest.raises(Exception, match="No notifier named 'pager' is installed"):
        build_notifier("d", config, plugins=plugins, project=tmp_path)
