"""``fractions.Fraction`` stored exactly, as JSON integers (never pickle, never eval)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from fractions import Fraction
from typing import Any, BinaryIO

from flowy.kernel.contracts import Materializer


class FractionMaterializer(Materializer):
    """``{"numerator": n, "denominator": d}``: exact, readable, safe to load."""

    name = "fraction"
    version = "1"
    extension = ".json"

    def accepts(self, obj: Any) -> bool:
        return isinstance(obj, Fraction)

    def save(self, obj: Any, file: BinaryIO) -> dict[str, Any]:
        data = {"numerator": obj.numerator, "denominator": obj.denominator}
        file.write(json.dumps(data).encode())
        text = str(obj)
        return {"value": text if len(text) <= 64 else text[:61] + "..."}

    def load(self, file: BinaryIO, metadata: Mapping[str, Any]) -> Any:
        data = json.loads(file.read())
        numerator, denominator = data["numerator"], data["denominator"]
        if not isinstance(numerator, int) or not isinstance(denominator, int):
            raise ValueError("a stored fraction must hold two integers")
        return Fraction(numerator, denominator)
