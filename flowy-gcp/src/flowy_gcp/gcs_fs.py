"""gcsfs with bounded requests: per-request timeouts and Flowy's own retry budget.

gcsfs retries every failed request six times with backoff up to 32 s and,
by default, sets no timeout on a request, so an endpoint that is down or
silent holds a step for minutes. :class:`BoundedGCSFileSystem` keeps
everything else of gcsfs (authentication, resumable uploads, listing) and
replaces only its request loop: ``connect_timeout``/``read_timeout`` on each
request (aiohttp), and ``retries`` attempts more with short jittered backoff
(at most 2 s) for what is transient (connection errors, timeouts, 408, 429,
5xx). A 4xx answer, a missing object or rejected credentials fail at once.

It derives from gcsfs's classic ``gcsfs.core.GCSFileSystem``, not from the
``gcsfs.GCSFileSystem`` name, which gcsfs 2026 points at its experimental
zonal/HNS filesystem: that one asks the Storage Control gRPC API for every
bucket's type first (a minute of retries against an emulator or a private
endpoint). Rapid (zonal) buckets are therefore not supported.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import aiohttp
from gcsfs.core import GCSFileSystem
from gcsfs.retry import HttpError

#: The single attempt inside gcsfs's retrying decorator.
_single_request = GCSFileSystem._request.__wrapped__

MAX_BACKOFF = 2.0


def is_transient(exc: BaseException) -> bool:
    """Whether another attempt may succeed (network, timeouts, throttling, 5xx)."""
    if isinstance(exc, HttpError):
        return _transient_status(exc.code)
    if isinstance(exc, aiohttp.ClientResponseError):
        return _transient_status(exc.status)
    if isinstance(exc, (aiohttp.ClientError, asyncio.TimeoutError, TimeoutError, ConnectionError)):
        return True
    import requests

    # gcsfs maps a 502 answer to requests' ProxyError.
    return isinstance(exc, requests.exceptions.ConnectionError)


def _transient_status(status: int) -> bool:
    return status in (408, 429) or (status >= 500 and status != 501)  # 501: never will be


def backoff(attempt: int) -> float:
    """Seconds before attempt ``attempt`` (1, 2, ...): 0.25, 0.5, 1, 2, 2... with jitter."""
    return float(min(MAX_BACKOFF, 0.25 * 2 ** (attempt - 1)) * (0.5 + random.random() / 2))


class BoundedGCSFileSystem(GCSFileSystem):  # type: ignore[misc]
    """A GCSFileSystem whose requests are bounded (see the module docstring)."""

    protocol = ("gs", "gcs")

    def __init__(
        self,
        *,
        connect_timeout: float,
        read_timeout: float,
        retries: int,
        **kwargs: Any,
    ) -> None:
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=connect_timeout, sock_read=read_timeout
        )
        super().__init__(
            requests_timeout=timeout,
            use_listings_cache=False,
            skip_instance_cache=True,
            **kwargs,
        )
        self.flowy_retries = retries
        self.flowy_budget = (
            f"{retries + 1} attempt(s) of connect_timeout={connect_timeout:g}s / "
            f"read_timeout={read_timeout:g}s"
        )

    async def _request(self, method: str, path: str, *args: Any, **kwargs: Any) -> Any:
        attempt = 0
        while True:
            try:
                return await _single_request(self, method, path, *args, **kwargs)
            except Exception as exc:
                attempt += 1
                if attempt > self.flowy_retries or not is_transient(exc):
                    raise
            await asyncio.sleep(backoff(attempt))


def make_filesystem(
    *,
    endpoint_url: str | None,
    anonymous: bool,
    project: str | None,
    connect_timeout: float,
    read_timeout: float,
    retries: int,
    block_size: int,
) -> BoundedGCSFileSystem:
    """The filesystem a store (or ``flowy gcp check``) uses: ADC credentials unless anonymous."""
    return BoundedGCSFileSystem(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries=retries,
        token="anon" if anonymous else "google_default",
        project=project or "",
        endpoint_url=endpoint_url,
        block_size=block_size,
    )
