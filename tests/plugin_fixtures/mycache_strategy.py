"""The `mycache` cache strategy: the step's parameter values, canonical JSON."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from flowy.kernel.contracts import CacheStrategy, UncacheableError


class MycacheCacheStrategy(CacheStrategy):
    name = "mycache"

    def key_part(self, step: Any, task: Any) -> str:
        for key, value in task.params.items():
            try:
                json.dumps(value)
            except TypeError as exc:
                raise UncacheableError(f"parameter {key!r}", str(exc)) from exc
        text = json.dumps(task.params, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()
