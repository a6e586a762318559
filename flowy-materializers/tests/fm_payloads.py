"""Classes that would create a marker file if a loader ever ran their code.

Importable by module name (skops and pickle look classes up that way); the
marker path comes from FLOWY_TEST_MARKER so a test can check it stays absent.
"""

from __future__ import annotations

import os
from typing import Any


def _plant() -> None:
    with open(os.environ.get("FLOWY_TEST_MARKER", "/tmp/flowy-test-marker"), "w") as f:
        f.write("code ran")


class PickleBomb:
    """Creates the marker when unpickled."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (_plant, ())


class SetStateBomb:
    """Creates the marker when its state is restored (how skops rebuilds objects)."""

    def __init__(self) -> None:
        self.x = 1

    def __setstate__(self, state: dict[str, Any]) -> None:
        _plant()
        self.__dict__.update(state)


class Plain:
    """A picklable value no safe materializer handles."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Plain) and other.value == self.value

    def __hash__(self) -> int:
        return hash(self.value)
