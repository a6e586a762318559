"""Micro-batching (``--batch-max-rows``): concurrent small JSON requests, one model call.

Many models cost nearly the same for eight rows as for one (a random forest walks
its trees once per call), so calling them once per batch multiplies throughput
under concurrent load. A single task takes what is queued, waits at most
``wait`` seconds for more when the queue is empty, and predicts the batch in a
worker thread while the next one gathers. Batches never mix models, methods or
body kinds. If the merged batch is refused (one request has a wrong column),
each request of it is answered alone, so every client gets its own answer and
its own 422; no request is ever failed by another's input.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool

from flowy_serve import codecs
from flowy_serve.loading import ServedModel
from flowy_serve.schema import model_input


@dataclass
class _Item:
    served: ServedModel
    payload: tuple[str, list[Any]]
    method: str
    answer: str
    future: asyncio.Future[tuple[bytes, int]] = field(repr=False)

    @property
    def rows(self) -> int:
        return len(self.payload[1])

    def key(self) -> tuple[int, str, str]:
        return id(self.served), self.method, self.payload[0]


def _classes(served: ServedModel, method: str) -> list[Any] | None:
    if method != "predict_proba":
        return None
    found: list[Any] | None = getattr(served.predictor, "classes", lambda: None)()
    return found


def _alone(item: _Item) -> tuple[bytes, int]:
    predictions = item.served.answer(model_input(item.payload, item.served.schema), item.method)
    classes = _classes(item.served, item.method)
    return codecs.encode(predictions, item.answer, classes=classes), item.rows


def predict_group(group: list[_Item]) -> list[tuple[bytes, int] | BaseException]:
    """One model call for the group; each item's own call when the merged one is refused."""
    import numpy as np

    first = group[0]
    merged = (first.payload[0], [row for item in group for row in item.payload[1]])
    try:
        inputs = model_input(merged, first.served.schema)
        predictions = np.asarray(codecs.as_array(first.served.call(inputs, first.method)))
        if predictions.ndim == 0 or len(predictions) != len(merged[1]):
            raise ValueError("not one prediction per row: the batch cannot be split")
    except Exception:  # noqa: BLE001 - answered request by request below
        results: list[tuple[bytes, int] | BaseException] = []
        for item in group:
            try:
                results.append(_alone(item))
            except Exception as exc:  # noqa: BLE001 - this request's own error
                results.append(exc)
        return results
    classes = _classes(first.served, first.method)
    answers: list[tuple[bytes, int] | BaseException] = []
    start = 0
    for item in group:
        part = predictions[start : start + item.rows]
        start += item.rows
        answers.append((codecs.encode(part, item.answer, classes=classes), item.rows))
    return answers


class MicroBatcher:
    """Gathers queued requests into batches of at most ``max_rows`` and predicts them."""

    def __init__(self, max_rows: int, wait: float) -> None:
        self.max_rows = max_rows
        self.wait = wait
        self._queue: asyncio.Queue[_Item] | None = None
        self._task: asyncio.Task[None] | None = None

    def accepts(self, payload: tuple[str, Any]) -> bool:
        kind, rows = payload
        return kind in ("inputs", "records") and 0 < len(rows) < self.max_rows

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def submit(
        self, served: ServedModel, payload: tuple[str, Any], method: str, answer: str
    ) -> tuple[bytes, int]:
        assert self._queue is not None, "the batcher starts with the app"
        future: asyncio.Future[tuple[bytes, int]] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Item(served, payload, method, answer, future))
        return await future

    def _drain(self, items: list[_Item]) -> None:
        assert self._queue is not None
        rows = sum(i.rows for i in items)
        while rows < self.max_rows and not self._queue.empty():
            item = self._queue.get_nowait()
            items.append(item)
            rows += item.rows

    async def _run(self) -> None:
        assert self._queue is not None
        while True:
            items = [await self._queue.get()]
            self._drain(items)
            if self.wait > 0 and sum(i.rows for i in items) < self.max_rows:
                await asyncio.sleep(self.wait)
                self._drain(items)
            groups: dict[tuple[int, str, str], list[_Item]] = {}
            for item in items:
                groups.setdefault(item.key(), []).append(item)
            for group in groups.values():
                try:
                    results = await run_in_threadpool(predict_group, group)
                except Exception as exc:  # noqa: BLE001 - every waiting request hears of it
                    results = [exc] * len(group)
                for item, result in zip(group, results, strict=True):
                    if item.future.done():
                        continue  # the client went away
                    if isinstance(result, BaseException):
                        item.future.set_exception(result)
                    else:
                        item.future.set_result(result)
