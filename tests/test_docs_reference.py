"""docs/reference.md documents every public record field and hook argument, and is current."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import attrs

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "gen_reference.py"


def _generator():
    spec = importlib.util.spec_from_file_location("gen_reference", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_public_record_field_and_hook_argument_is_documented():
    assert _generator().undocumented() == []


def test_reference_covers_the_records_users_meet():
    text = (ROOT / "docs" / "reference.md").read_text()
    for name in ("RunResult", "RunRecord", "StepTask", "StepResult", "CacheEntry"):
        assert f"`flowy.records.{name}`" in text or f"`flowy.engine.{name}`" in text, name
    assert "| `retry_on` |" in text and "`['builtins.Exception']`" in text


def test_reference_is_generated_from_the_current_code():
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def test_an_undocumented_field_is_named_and_a_documented_one_is_not():
    """The check reads attribute docstrings and ``metadata={"doc": ...}``, and nothing else."""
    gen = _generator()

    @attrs.define
    class Sample:
        documented: int = 0
        """Has a docstring."""
        by_metadata: str = attrs.field(default="", metadata={"doc": "Has metadata."})
        bare: float = 0.0

    docs = gen.attribute_docstrings(Sample)
    found = {f.name: gen.field_doc(Sample, f, docs) for f in attrs.fields(Sample)}
    assert found == {"documented": "Has a docstring.", "by_metadata": "Has metadata.", "bare": ""}


def test_a_hook_argument_missing_from_args_is_found():
    gen = _generator()

    def flowy_sample(run: object, step: str) -> None:
        """Fires.

        Args:
            run: the run,
                on two lines.
        """

    _, args = gen.split_hook_doc(flowy_sample)
    assert args == {"run": "the run, on two lines."}
