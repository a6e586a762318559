"""Slack- and Discord-compatible webhooks: the same alert in each one's message shape.

* Slack incoming webhooks take ``{"text": ..., "blocks": [...]}`` (``text`` is
  the notification's fallback; Mattermost and Rocket.Chat accept the same).
* Discord webhooks take ``{"content": ..., "embeds": [{"title", "description",
  "url", "color", "fields"}]}`` (``content`` at most 2,000 characters).

The webhook URL is the secret of both: keep it in the environment
(``url = "{env:SLACK_WEBHOOK_URL}"``); errors name only its host.
"""

from __future__ import annotations

from typing import Any

from flowy.kernel.alerting import Delivery

from flowy_notifiers.webhook import WebhookNotifier

#: Discord embed colours by event: red firing, green resolved, blue test.
COLOURS = {"firing": 0xD93F0B, "resolved": 0x2DA44E, "test": 0x0969DA}


def _about(delivery: Delivery) -> list[tuple[str, str]]:
    a = delivery.alert
    pairs = [
        ("Pipeline", a.pipeline),
        ("Run", a.run_id),
        ("Step", a.step),
        ("Artifact", a.artifact_id),
        ("Model", f"{a.model} v{a.model_version}" if a.model and a.model_version else a.model),
        ("Severity", a.severity),
    ]
    return [(k, str(v)) for k, v in pairs if v]


class SlackNotifier(WebhookNotifier):
    """A Slack incoming webhook (unsigned: Slack's URL is the credential)."""

    def body(self, delivery: Delivery) -> dict[str, Any]:
        fields = [{"type": "mrkdwn", "text": f"*{k}:* {v}"} for k, v in _about(delivery)]
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": delivery.title[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": delivery.alert.message}},
        ]
        if fields:
            blocks.append({"type": "section", "fields": fields[:10]})
        if delivery.link:
            blocks.append(
                {"type": "context", "elements": [{"type": "mrkdwn", "text": delivery.link}]}
            )
        return {"text": f"{delivery.title}: {delivery.alert.message}", "blocks": blocks}


class DiscordNotifier(WebhookNotifier):
    """A Discord channel webhook."""

    def body(self, delivery: Delivery) -> dict[str, Any]:
        embed: dict[str, Any] = {
            "title": delivery.title[:256],
            "description": delivery.alert.message[:4096],
            "color": COLOURS[delivery.event],
            "fields": [{"name": k, "value": v[:1024], "inline": True} for k, v in _about(delivery)],
        }
        if delivery.link:
            embed["url"] = delivery.link
        return {"content": delivery.title[:2000], "embeds": [embed]}
