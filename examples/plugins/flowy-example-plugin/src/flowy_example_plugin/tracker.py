"""A tracker that appends one JSON object per lifecycle event to a file.

A stack names it (``[tracker] type = "jsonl"``, ``path = "{project}/events.jsonl"``);
the engine builds it from those options and registers it for the run, so its
``@hookimpl`` methods see every event. Each line is written and flushed on its
own, so a crashed run still leaves the events it reached.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from flowy import hookimpl


class JsonLinesTracker:
    """Appends ``{"event", "run_id", "pipeline", "step", ...}`` lines to ``path``."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)

    def _write(self, event: str, run: Any, **fields: Any) -> None:
        record = {"event": event, "run_id": run.run_id, "pipeline": run.pipeline, **fields}
        record["time"] = time.time()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, default=str) + "\n")

    @hookimpl
    def flowy_pipeline_started(self, run: Any) -> None:
        self._write("flowy_pipeline_started", run, params=run.params)

    @hookimpl
    def flowy_pipeline_finished(self, run: Any, status: str) -> None:
        self._write("flowy_pipeline_finished", run, status=status)

    @hookimpl
    def flowy_step_started(self, run: Any, task: Any) -> None:
        self._write("flowy_step_started", run, step=task.step)

    @hookimpl
    def flowy_step_finished(self, run: Any, task: Any, result: Any) -> None:
        outputs = {name: ref.materializer for name, ref in result.outputs.items()}
        self._write("flowy_step_finished", run, step=task.step, outputs=outputs)

    @hookimpl
    def flowy_step_failed(self, run: Any, task: Any, result: Any) -> None:
        self._write("flowy_step_failed", run, step=task.step, error=result.error)

    @hookimpl
    def flowy_step_cached(self, run: Any, task: Any, entry: Any) -> None:
        self._write("flowy_step_cached", run, step=task.step)

    @hookimpl
    def flowy_step_skipped(self, run: Any, step: str, reason: str) -> None:
        self._write("flowy_step_skipped", run, step=step, reason=reason)

    @hookimpl
    def flowy_metric_logged(self, run: Any, step: str, name: str, value: float, index: Any) -> None:
        self._write("flowy_metric_logged", run, step=step, name=name, value=value)


def read_events(path: str | Path) -> list[dict[str, Any]]:
    """Every event written to ``path``, in order."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]
