"""The audit log: one JSON line per write (``FLOWY_HOME/ui/audit.jsonl``, mode 0600).

Each line: ``time`` (POSIX seconds), ``token`` (the caller's token name), ``action``
(``model.promote``...), ``target``, ``outcome`` (``ok``, ``refused`` or ``failed``)
and ``detail``. A line is written with one ``write`` on a descriptor opened with
``O_APPEND``, so lines from concurrent requests or servers never interleave.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def record(
        self, token: str, action: str, target: str, outcome: str = "ok", **detail: Any
    ) -> None:
        line = {
            "time": time.time(),
            "token": token,
            "action": action,
            "target": target,
            "outcome": outcome,
            "detail": detail,
        }
        data = (json.dumps(line, sort_keys=True, default=str) + "\n").encode()
        with self._lock:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)

    def tail(self, limit: int = 100) -> list[dict[str, Any]]:
        """The last ``limit`` lines, newest first (a damaged line is skipped)."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        result: list[dict[str, Any]] = []
        for text in reversed(lines):
            if len(result) >= limit:
                break
            try:
                row = json.loads(text)
            except ValueError:
                continue
            if isinstance(row, dict):
                result.append(row)
        return result
