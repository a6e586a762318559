"""The email notifier against a real SMTP server (aiosmtpd) that requires STARTTLS.

The test makes a self-signed certificate for 127.0.0.1 (cryptography), serves
SMTP with it, and gives the notifier that certificate as its CA: the message
arrives over TLS, after a login the server accepts only over TLS.
"""

from __future__ import annotations

import time
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from flowy.alerts.notify import build_notifier, send_one
from flowy.alerts.rules import validate
from flowy.kernel.alerting import AlertRecord, Delivery

pytestmark = pytest.mark.slow


def _alert() -> AlertRecord:
    now = time.time()
    return AlertRecord(
        "slow-train", "duration", "train/fit", "firing", "warning",
        "Step 'fit' took 12s in run r1, above the limit of 5s", now, now,
        pipeline="train", run_id="r1", step="fit",
    )  # fmt: skip


def test_mail_arrives_over_starttls_after_a_login(
    smtp: tuple[int, Path, Any], tmp_path: Path, plugins: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    port, cert, inbox = smtp
    monkeypatch.setenv("SMTP_PASSWORD", "pw-123")
    table = {
        "type": "email", "host": "127.0.0.1", "port": port, "sender": "flowy@example.com",
        "to": ["ops@example.com", "ml@example.com"], "username": "bot",
        "password": "{env:SMTP_PASSWORD}", "cafile": str(cert), "timeout": 20,
    }  # fmt: skip
    config = validate({"ui_url": "https://ui.example", "notifiers": {"mail": table}}, tmp_path)
    notifier = build_notifier("mail", config, plugins=plugins, project=tmp_path)
    outcome = send_one(notifier, Delivery(_alert(), "firing", config.link("r1")))
    assert outcome.status == "sent", outcome.error
    (sender, rcpts, content, over_tls) = inbox.messages[0]
    assert over_tls and sender == "flowy@example.com"
    assert rcpts == ["ops@example.com", "ml@example.com"]
    mail = message_from_bytes(content)
    assert mail["Subject"] == "[flowy] [FIRING] slow-train: train/fit"
    assert mail["X-Flowy-Alert-Rule"] == "slow-train"
    text = mail.get_payload(decode=True).decode()
    assert "above the limit of 5s" in text and "https://ui.example/runs/r1" in text


def test_a_wrong_password_fails_without_retrying(
    smtp: tuple[int, Path, Any], tmp_path: Path, plugins: Any
) -> None:
    port, cert, inbox = smtp
    table = {
        "type": "email", "host": "127.0.0.1", "port": port, "sender": "flowy@example.com",
        "to": "ops@example.com", "username": "bot", "password": "nope", "cafile": str(cert),
        "attempts": 3, "backoff": 0,
    }  # fmt: skip
    config = validate({"notifiers": {"mail": table}}, tmp_path)
    notifier = build_notifier("mail", config, plugins=plugins, project=tmp_path)
    outcome = send_one(notifier, Delivery(_alert(), "firing"))
    assert (outcome.status, outcome.attempts) == ("failed", 1)
    assert "refused the login" in (outcome.error or "") and not inbox.messages


def test_an_untrusted_certificate_is_refused(
    smtp: tuple[int, Path, Any], tmp_path: Path, plugins: Any
) -> None:
    port, _cert, inbox = smtp
    table = {
        "type": "email", "host": "127.0.0.1", "port": port, "sender": "flowy@example.com",
        "to": "ops@example.com",
    }  # fmt: skip
    config = validate({"notifiers": {"mail": table}}, tmp_path)
    notifier = build_notifier("mail", config, plugins=plugins, project=tmp_path)
    outcome = send_one(notifier, Delivery(_alert(), "firing"))
    assert outcome.status == "failed" and "TLS" in (outcome.error or "")
    assert not inbox.messages
