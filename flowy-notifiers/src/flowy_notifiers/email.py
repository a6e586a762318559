"""Email over SMTP with STARTTLS: a plain-text message per alert event.

The connection is upgraded with STARTTLS before any credential is sent, and
the server's certificate is verified (against the system's CAs, or ``cafile``
for a private CA). A server that does not offer STARTTLS is refused unless
``starttls = false`` is set explicitly (a local relay on 127.0.0.1, say).
Credentials come from the environment: ``password = "{env:SMTP_PASSWORD}"``.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from typing import Any

from flowy.kernel.alerting import Delivery, DeliveryError, Notifier
from flowy.kernel.errors import ConfigError


class EmailNotifier(Notifier):
    """Send each alert event as an email."""

    def __init__(
        self,
        name: str,
        *,
        host: str,
        sender: str,
        to: str | list[str],
        port: int = 587,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = True,
        cafile: str | None = None,
        timeout: float = 10.0,
        subject_prefix: str = "[flowy]",
    ) -> None:
        super().__init__(name)
        where = f"Notifier {name!r} (email)"
        recipients = [to] if isinstance(to, str) else list(to)
        if not host or not isinstance(host, str):
            raise ConfigError(f"{where}: host must name the SMTP server.")
        if not recipients or not all(isinstance(r, str) and "@" in r for r in recipients):
            raise ConfigError(f"{where}: to must be an address or a list of addresses.")
        if not isinstance(sender, str) or "@" not in sender:
            raise ConfigError(f"{where}: sender must be an address, not {sender!r}.")
        if (username is None) != (password is None):
            raise ConfigError(f"{where}: give both username and password, or neither.")
        if username and not starttls:
            raise ConfigError(
                f"{where}: credentials are only sent over STARTTLS; remove starttls = false."
            )
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ConfigError(f"{where}: port must be a TCP port number, not {port!r}.")
        self.host, self.port, self.sender, self.to = host, port, sender, recipients
        self.username, self.password = username, password
        self.starttls, self.cafile = bool(starttls), cafile
        self.timeout = float(timeout)
        self.subject_prefix = subject_prefix

    def message(self, delivery: Delivery) -> EmailMessage:
        msg = EmailMessage()
        msg["Subject"] = f"{self.subject_prefix} {delivery.title}".strip()
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.to)
        msg["X-Flowy-Alert-Rule"] = delivery.alert.rule
        msg["X-Flowy-Event"] = delivery.event
        msg.set_content(delivery.text() + "\n")
        return msg

    def send(self, delivery: Delivery) -> None:
        where = f"SMTP server {self.host}:{self.port}"
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                smtp.ehlo()
                if self.starttls:
                    if not smtp.has_extn("starttls"):
                        raise DeliveryError(
                            f"{where} does not offer STARTTLS; refusing to send in the clear "
                            "(set starttls = false only for a trusted local relay)",
                            retryable=False,
                        )
                    smtp.starttls(context=self._tls())
                    smtp.ehlo()
                if self.username is not None and self.password is not None:
                    self._login(smtp, self.username, self.password)
                smtp.send_message(self.message(delivery))
        except DeliveryError:
            raise
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(
                f"{where} refused the login: {_reply(exc)}", retryable=False
            ) from exc
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(
                f"{where} answered {exc.smtp_code}: {_reply(exc)}", retryable=exc.smtp_code >= 400
            ) from exc
        except ssl.SSLError as exc:
            raise DeliveryError(f"TLS with {where} failed: {exc}", retryable=False) from exc
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"cannot deliver through {where}: {exc}") from exc

    @staticmethod
    def _login(smtp: smtplib.SMTP, username: str, password: str) -> None:
        """AUTH PLAIN when offered (one exchange: a wrong password is one clear refusal),
        else whatever smtplib picks; over TLS only, as checked when built."""
        offered = (smtp.esmtp_features.get("auth") or "").upper().split()
        if "PLAIN" in offered:
            smtp.user, smtp.password = username, password
            smtp.auth("PLAIN", smtp.auth_plain)
        else:
            smtp.login(username, password)

    def _tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.cafile)


def _reply(exc: Any) -> str:
    error = exc.smtp_error
    return error.decode("utf-8", "replace") if isinstance(error, bytes) else str(error)
