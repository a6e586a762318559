"""Artifact previews: what an artifact holds, summarised, within bounds of size and time.

:func:`preview` loads an artifact through the read API (``Client.load``, with
``allow_pickle=False`` whatever the project allows: a server never unpickles) and
hands the object to the module for its kind: :mod:`.frames`, :mod:`.arrays`,
:mod:`.images`, :mod:`.text` (JSON and text) or :mod:`.models`. The answer is a
dict whose ``kind`` is one of :data:`KINDS`.

Bounds (:class:`Limits`, from the server's settings):

* size: an artifact larger than ``max_bytes`` is not loaded (kind ``too_large``);
* time: the load and the summary run in a worker thread; after ``timeout`` seconds
  the request gives up with kind ``timed_out``. Python cannot stop a thread, so
  the worker finishes in the background and its result is dropped;
* concurrency: at most ``concurrency`` workers run at once (a semaphore each
  worker releases only when it really ends), so previews that timed out cannot
  pile up: a request that finds every slot busy for its whole time limit is
  answered ``timed_out`` too, without starting another worker;
* output: each kind caps what it sends (20 rows, 50 columns of statistics, a
  30-bin histogram over at most a million values, 64 KiB of text, 512 px images).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
from flowy.kernel.assets import ASSET_KEY, Asset
from flowy.kernel.errors import ChecksumMismatchError, FlowyError, UnsafeArtifactError
from flowy.kernel.redact import mask_text

from flowy_ui.previews import arrays, frames, images, models, text
from flowy_ui.previews.values import class_name

if TYPE_CHECKING:
    from flowy.kernel.catalog import ArtifactInfo
    from flowy.tracking import Client

    from flowy_ui.settings import Settings

log = logging.getLogger("flowy_ui.previews")

KINDS = ("frame", "array", "image", "json", "text", "model", "none", "too_large",
         "timed_out", "unsafe")  # fmt: skip

T = TypeVar("T")


@attrs.frozen
class Limits:
    """How much a preview may load, for how long, and how many may run at once."""

    max_bytes: int = 256 << 20
    timeout: float = 10.0
    concurrency: int = 4

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(
            max_bytes=settings.preview_max_bytes,
            timeout=settings.preview_timeout,
            concurrency=settings.preview_concurrency,
        )


class TimedOut(Exception):
    """The preview did not finish within its time limit (or found no free slot)."""


class Previewer:
    """Runs preview jobs in worker threads, at most ``limits.concurrency`` at a time."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._slots = threading.BoundedSemaphore(max(1, limits.concurrency))

    def run(self, job: Callable[[], T]) -> T:
        """``job()``'s result, or :class:`TimedOut` after ``limits.timeout`` seconds.

        A timed-out job keeps running in its (daemon) thread until it ends, holding
        its slot; its result is then discarded.
        """
        deadline = time.monotonic() + self.limits.timeout
        if not self._slots.acquire(timeout=self.limits.timeout):
            raise TimedOut(f"every preview slot ({self.limits.concurrency}) stayed busy")
        future: Future[T] = Future()

        def work() -> None:
            try:
                future.set_result(job())
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting request
                future.set_exception(exc)
            finally:
                self._slots.release()

        try:
            threading.Thread(target=work, name="flowy-ui-preview", daemon=True).start()
        except BaseException:
            self._slots.release()
            raise
        try:
            return future.result(timeout=max(0.0, deadline - time.monotonic()))
        except FutureTimeout:
            raise TimedOut(f"no preview within {self.limits.timeout:g} s") from None


def written_by(client: Client, materializer: str) -> dict[str, Any]:
    """The distribution that registered the artifact's materializer, and its format."""
    for registration in client.plugins.registry.all("materializer"):
        if registration.name == materializer:
            found = registration.info.get("format")
            return {
                "materializer_distribution": registration.distribution,
                "materializer_format": found if isinstance(found, str) else None,
            }
    return {"materializer_distribution": None, "materializer_format": None}


def image_url(artifact_id: str) -> str:
    return f"/api/v1/artifacts/{artifact_id}/preview/image"


def _recorded_asset(info: ArtifactInfo) -> dict[str, Any]:
    found = info.artifact.metadata.get(ASSET_KEY)
    return found if isinstance(found, dict) else {}


def summarize(value: Any, info: ArtifactInfo) -> dict[str, Any]:
    """The preview of an already loaded ``value`` (the dispatcher: one module per kind)."""
    asset = _recorded_asset(info)
    if isinstance(value, Asset):
        value = value.value
    fields = asset.get("fields") if isinstance(asset.get("fields"), dict) else None
    if frames.is_frame(value):
        return frames.preview(value)
    if arrays.is_array(value):
        return arrays.preview(value)
    if models.is_model(value):
        return models.preview(value, fields)
    if isinstance(value, bytes | bytearray):
        data = bytes(value)
        media_type = images.sniff(data)
        if media_type is not None:
            return images.preview(data, media_type, image_url(info.artifact.artifact_id))
        return text.preview_bytes(data)
    if isinstance(value, str):
        return text.preview_text(value)
    if info.asset_type == "model":
        return {**models.preview(value, fields), **_json_text(value)}
    if isinstance(value, text.JSON_TYPES):
        return text.preview_json(value)
    return {"kind": "none", "class_name": class_name(value),
            "message": f"no preview for a {class_name(value)}"}  # fmt: skip


def _json_text(value: Any) -> dict[str, Any]:
    """A model recorded from plain data (``Model({...})``) also shows that data."""
    if not isinstance(value, text.JSON_TYPES):
        return {}
    shown = text.preview_json(value)
    return {"text": shown["text"], "truncated": shown["truncated"]}


def _load(client: Client, info: ArtifactInfo) -> Callable[[], Any]:
    # Resolved on the request's thread, so the worker only reads what is already built.
    client.artifact_store  # noqa: B018
    client.materializers  # noqa: B018
    return lambda: client.load(info.artifact, allow_pickle=False)


def preview(client: Client, info: ArtifactInfo, previewer: Previewer) -> dict[str, Any]:
    """The preview of ``info``'s artifact, within ``previewer``'s limits.

    A checksum mismatch propagates (the API answers 409 "corrupted"); any other
    failure to load becomes kind ``none`` with the reason.
    """
    ref = info.artifact
    limits = previewer.limits
    base: dict[str, Any] = {
        "artifact_id": ref.artifact_id,
        "size": ref.size,
        **written_by(client, ref.materializer),
    }
    if ref.size > limits.max_bytes:
        return {**base, "kind": "too_large", "limit": limits.max_bytes,
                "message": f"the artifact is {ref.size} bytes; previews load at most "
                f"{limits.max_bytes} (download it instead)"}  # fmt: skip
    load = _load(client, info)
    try:
        return {**base, **previewer.run(lambda: summarize(load(), info))}
    except TimedOut as exc:
        return {**base, "kind": "timed_out", "timeout": limits.timeout, "message": str(exc)}
    except UnsafeArtifactError as exc:
        return {**base, "kind": "unsafe", "message": mask_text(str(exc))}
    except ChecksumMismatchError:
        raise
    except FlowyError as exc:
        return {**base, "kind": "none", "message": mask_text(str(exc))}
    except Exception as exc:  # a preview that fails is a message, not a 500
        log.warning("preview of %s failed", ref.artifact_id, exc_info=True)
        reason = f"{type(exc).__name__}: {mask_text(str(exc))[:500]}"
        return {**base, "kind": "none", "message": f"could not be previewed ({reason})"}


def image(client: Client, info: ArtifactInfo, previewer: Previewer) -> tuple[bytes, str] | None:
    """The image bytes and media type to serve for ``info``; None when there is no image
    (not an image, too large, not loaded in time, unsafe to load)."""
    if info.artifact.size > previewer.limits.max_bytes:
        return None
    load = _load(client, info)

    def job() -> tuple[bytes, str] | None:
        value = load()
        if isinstance(value, Asset):
            value = value.value
        if not isinstance(value, bytes | bytearray):
            return None
        return images.thumbnail(bytes(value))

    try:
        return previewer.run(job)
    except ChecksumMismatchError:
        raise
    except (TimedOut, UnsafeArtifactError):
        return None
    except Exception:  # a damaged image, a decompression bomb: no image, not a 500
        log.warning("image preview of %s failed", info.artifact.artifact_id, exc_info=True)
        return None
