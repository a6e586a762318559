"""One JSON POST with a timeout, its failure told apart: retry (5xx, 429, network) or not (4xx).

The standard library's urllib: a webhook is one small request, and a notifier
that needs no third-party client cannot break when one changes. Redirects are
never followed (urllib would repeat a POST answered 302 as a GET without its
body and call that a success): a 3xx is a failed delivery naming the status,
and a body never goes somewhere the configuration did not name.
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from flowy.kernel.alerting import DeliveryError
from flowy.kernel.errors import ConfigError

#: Characters of a response body kept in an error message.
BODY_CHARS = 200


def check_url(url: Any, where: str) -> str:
    """``url`` if it is an http(s) URL, else a ConfigError naming the notifier."""
    if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
        raise ConfigError(
            f"{where}: url must be an http:// or https:// address, not {url!r}. Set it in the "
            'notifier\'s table (url = "{env:WEBHOOK_URL}" keeps it out of the file).'
        )
    if not urlsplit(url).hostname:
        raise ConfigError(f"{where}: url {url!r} has no host name.")
    return url


def encode(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, default=str, separators=(",", ":")).encode()


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # urllib then raises the 3xx as an HTTPError


_OPENER = urllib.request.build_opener(_NoRedirects)


def post(url: str, data: bytes, headers: Mapping[str, str], timeout: float) -> int:
    """POST ``data``; the status, or DeliveryError (``retryable`` for 5xx/429/network)."""
    request = urllib.request.Request(
        url,
        data=data,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "flowy-notifiers", **headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        body = exc.read(BODY_CHARS).decode("utf-8", "replace").strip()
        retry = exc.code >= 500 or exc.code == 429
        raise DeliveryError(
            f"{url_label(url)} answered HTTP {exc.code}" + (f": {body}" if body else ""),
            retryable=retry,
        ) from exc
    except TimeoutError as exc:
        raise DeliveryError(f"{url_label(url)} did not answer within {timeout:g}s") from exc
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError | socket.timeout):
            raise DeliveryError(f"{url_label(url)} did not answer within {timeout:g}s") from exc
        raise DeliveryError(f"cannot reach {url_label(url)}: {reason}") from exc
    except OSError as exc:  # a connection reset mid-response
        raise DeliveryError(f"cannot reach {url_label(url)}: {exc}") from exc


def url_label(url: str) -> str:
    """The scheme, host and port of ``url``: never its path (Slack's holds the secret)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
