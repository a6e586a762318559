"""The email notifier against a real SMTP server (aiosmtpd) that requires STARTTLS.

The test makes a self-signed certificate for 127.0.0.1 (cryptography), serves
SMTP with it, and gives the notifier that certificate as its CA: the message
arrives over TLS, after a login the server accepts only over TLS.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import time
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from flowy.alerts.notify import build_notifier, send_one
from flowy.alerts.rules import validate
from flowy.kernel.alerting import AlertRecord, Delivery

pytestmark = pytest.mark.slow


def _certificate(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes, bool]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        tls = session.ssl is not None
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content, tls))
        return "250 OK"


def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"bot", b"pw-123")
    return AuthResult(success=ok, handled=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[tuple[int, Path, _Inbox]]:
    cert, key = _certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox = _Inbox()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=_free_port(),
        tls_context=context,
        require_starttls=True,
        authenticator=_authenticate,
        auth_require_tls=True,
    )
    controller.start()
    try:
        yield controller.port, cert, inbox
    finally:
        controller.stop()


def _alert() -> AlertRecord:
    now = time.time()
    return AlertRecord(
        "slow-train", "duration", "train/fit", "firing", "warning",
        "Step 'fit' took 12s in run r1, above the limit of 5s", now, now,
        pipeline="train", run_id="r1", step="fit",
    )  # fmt: skip


def test_mail_arrives_over_starttls_after_a_login(
    smtp: tuple[int, Path, _Inbox], tmp_path: Path, plugins: Any, monkeypatch: pytest.MonkeyPatch
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
    smtp: tuple[int, Path, _Inbox], tmp_path: Path, plugins: Any
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
    smtp: tuple[int, Path, _Inbox], tmp_path: Path, plugins: Any
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
