"""The generic webhook: the alert as JSON, signed so the receiver can trust it.

Each request carries ``X-Flowy-Timestamp`` (Unix seconds) and, when a
``secret`` is configured, ``X-Flowy-Signature: sha256=HEX``, the HMAC-SHA256 of
``f"{timestamp}.{body}"`` under the secret. A receiver recomputes it over the raw
body, compares with :func:`hmac.compare_digest`, and refuses old timestamps,
so a captured request can be neither forged nor replayed later (the scheme
Stripe and Slack use). :func:`verify` is that check, for receivers in Python.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

from flowy.kernel.alerting import Delivery, Notifier
from flowy.kernel.errors import ConfigError

from flowy_notifiers._http import check_url, encode, post

SIGNATURE_HEADER = "X-Flowy-Signature"
TIMESTAMP_HEADER = "X-Flowy-Timestamp"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(
    secret: str, timestamp: str, body: bytes, signature: str, *, tolerance: float = 300
) -> bool:
    """Whether ``signature`` is ``body``'s under ``secret`` and ``timestamp`` is recent."""
    try:
        fresh = abs(time.time() - float(timestamp)) <= tolerance
    except ValueError:
        return False
    return fresh and hmac.compare_digest(sign(secret, timestamp, body), signature)


class WebhookNotifier(Notifier):
    """POST the alert's JSON payload (see ``Delivery.payload``) to ``url``."""

    def __init__(
        self,
        name: str,
        *,
        url: str,
        secret: str | None = None,
        timeout: float = 10.0,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(name)
        where = f"Notifier {name!r} (webhook)"
        self.url = check_url(url, where)
        if secret is not None and not (isinstance(secret, str) and secret):
            raise ConfigError(
                f"{where}: secret must be a non-empty string; read it from the environment "
                'with secret = "{env:WEBHOOK_SECRET}".'
            )
        self.secret = secret
        self.timeout = _timeout(timeout, where)
        if headers is not None and not isinstance(headers, dict):
            raise ConfigError(f"{where}: headers must be a table of names and values.")
        self.headers = {str(k): str(v) for k, v in (headers or {}).items()}

    def send(self, delivery: Delivery) -> None:
        body = encode(self.body(delivery))
        timestamp = str(int(time.time()))
        headers = {**self.headers, TIMESTAMP_HEADER: timestamp}
        if self.secret:
            headers[SIGNATURE_HEADER] = sign(self.secret, timestamp, body)
        post(self.url, body, headers, self.timeout)

    def body(self, delivery: Delivery) -> dict[str, Any]:
        return delivery.payload()


def _timeout(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"{where}: timeout must be a number of seconds above 0, not {value!r}.")
    return float(value)
