"""Flowy's own contract suites, run against this plugin's tracker and materializer."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any, ClassVar

import pytest
from flowy.testing import MaterializerContract, TrackerContract
from flowy_example_plugin.fraction import FractionMaterializer
from flowy_example_plugin.tracker import JsonLinesTracker, read_events

PLUGIN = [("flowy-example-plugin", "flowy_example_plugin.plugin")]


class TestJsonLinesTracker(TrackerContract):
    plugins: ClassVar[list[tuple[str, str]]] = PLUGIN
    name = "jsonl"

    @pytest.fixture
    def tracker(self, tmp_path: Path) -> JsonLinesTracker:
        return JsonLinesTracker(path=str(tmp_path / "events" / "run.jsonl"))

    def events(self, tracker: JsonLinesTracker) -> list[tuple[str, str | None]]:
        return [(e["event"], e.get("step")) for e in read_events(tracker.path)]


class TestFractionMaterializer(MaterializerContract):
    plugins: ClassVar[list[tuple[str, str]]] = PLUGIN

    @pytest.fixture
    def materializer(self) -> FractionMaterializer:
        return FractionMaterializer()

    @pytest.fixture
    def samples(self) -> list[Any]:
        return [Fraction(1, 3), Fraction(-22, 7), Fraction(0), Fraction(10**40 + 1, 3**50)]
