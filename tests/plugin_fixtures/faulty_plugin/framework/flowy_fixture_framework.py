"""A stand-in for a framework such as polars or torch: present while a run writes, gone later."""

from __future__ import annotations

from typing import Any


class Frame:
    def __init__(self, values: list[Any]) -> None:
        self.values = values

    def __repr__(self) -> str:
        return f"Frame({self.values!r})"


class Grid:
    def __init__(self, values: list[Any]) -> None:
        self.values = values

    def __repr__(self) -> str:
        return f"Grid({self.values!r})"
