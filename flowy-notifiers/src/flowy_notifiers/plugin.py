"""Entry-point module of flowy-notifiers (group ``flowy``).

Registers dotted paths only: a notifier's module is imported when an alert is
first sent through it, never by ``flowy --help`` or a run that fires nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowy import hookimpl

if TYPE_CHECKING:
    from flowy.kernel.registry import Register


@hookimpl
def flowy_register_notifiers(register: Register) -> None:
    register(
        "webhook",
        "flowy_notifiers.webhook:WebhookNotifier",
        description="POST the alert as JSON, signed with HMAC-SHA256 (X-Flowy-Signature).",
    )
    register(
        "slack",
        "flowy_notifiers.chat:SlackNotifier",
        description="A Slack incoming webhook (or a Slack-compatible one: Mattermost, ...).",
    )
    register(
        "discord",
        "flowy_notifiers.chat:DiscordNotifier",
        description="A Discord channel webhook (content and an embed).",
    )
    register(
        "email",
        "flowy_notifiers.email:EmailNotifier",
        description="Email over SMTP with STARTTLS (smtplib).",
    )
