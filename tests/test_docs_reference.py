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
        assert f"`flowy.kernel.records.{name}`" in text or f"`flowy.run.engine.{name}`" in text, (
            name
        )
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


def test_the_local_stack_is_described_as_docs_executors_md_describes_its_executor(tmp_path):
    """`flowy stack list` and docs/stacks.md say what docs/executors.md says: worker processes."""
    import json
    import os

    flowy = Path(sys.executable).with_name("flowy")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWY_")}
    env.update(FLOWY_HOME=str(tmp_path / "home"), FLOWY_LOAD_PLUGINS="flowy-executor-local")
    done = subprocess.run(
        [str(flowy), "stack", "list", "--json"], cwd=tmp_path, env=env, capture_output=True,
        text=True, timeout=120, check=True,
    )  # fmt: skip
    local = next(s for s in json.loads(done.stdout) if s["name"] == "local")
    assert "parallel worker processes" in local["description"]
    assert "in this process" not in local["description"]
    executors = (ROOT / "docs" / "executors.md").read_text()
    assert (
        "| `local` (default) | flowy-executor-local | in parallel, in worker processes" in executors
    )
    stacks = " ".join((ROOT / "docs" / "stacks.md").read_text().split())
    assert "in-process executor" not in stacks and "parallel worker processes" in stacks


def test_docs_link_only_to_files_in_the_repository():
    """Relative links and named files in docs/ exist (no ARCHITECTURE.md, no ../shared)."""
    import re

    for page in (ROOT / "docs").glob("*.md"):
        text = page.read_text()
        assert "ARCHITECTURE.md" not in text, page.name
        assert "../shared" not in text, page.name
        for target in re.findall(r"\]\(([^)#:]+\.md)(?:#[^)]*)?\)", text):
            assert (page.parent / target).is_file(), f"{page.name} links to missing {target}"


def _register_keywords(text: str) -> set[str]:
    """Keywords of the materializer ``register(name, "pkg.module:Class", /, *, ...)`` signature."""
    import re

    start = text.index('register(name, "pkg.module:Class", /, *,')
    signature = " ".join(text[start : text.index(")``", start)].split())
    keywords = signature.split("/, *,", 1)[1].split(",")
    return {k.split("=")[0].strip() for k in keywords if re.fullmatch(r"\s*\w+(=.*)?", k)}


def test_materializer_register_keywords_agree_everywhere_with_defaults():
    from flowy.kernel import hookspecs

    expected = {
        "types", "extension", "safe", "priority", "requires", "install", "format",
        "materializer_version", "description",
    }  # fmt: skip
    plugins_md = (ROOT / "docs" / "plugins.md").read_text()
    materializers_md = (ROOT / "docs" / "materializers.md").read_text()
    assert _register_keywords(plugins_md) == expected
    assert _register_keywords(hookspecs.flowy_register_materializers.__doc__ or "") == expected
    table = materializers_md.split("### register() keywords", 1)[1].split("\n\n", 3)[2]
    rows = {line.split("`")[1]: line.split("|")[2].strip() for line in table.splitlines()[2:]}
    assert set(rows) == expected and all(rows.values()), rows
    assert rows["safe"] == "`True`" and rows["priority"] == "`0`"


def test_plugins_md_answers_the_plugin_authors_questions():
    text = " ".join((ROOT / "docs" / "plugins.md").read_text().split())
    # an Options model, and what to raise for a bad value
    assert "Options: ClassVar[Any] = GCSArtifactStoreOptions" in text
    assert 'raise ValueError(f"bucket' in text
    # a stack inside the flowy_project fixture
    assert (
        'save_stack(StackDefinition("tracked", components, "test"), "project", flowy_project)'
        in (text)
    )
    # which of two same-name plugin stacks wins
    assert "the one registered first keeps it" in text
    # assert_equal in the contract-suite table
    row = next(line for line in text.split("| `MaterializerContract`")[1:2])
    assert "assert_equal(expected, actual)" in row


def test_the_stack_fixture_recipe_in_plugins_md_works(flowy_project):
    """The documented way to make a stack in ``flowy_project`` gives a stack Flowy resolves."""
    from flowy.stacks.definitions import StackDefinition, save_stack

    components = {
        "executor": {"type": "local"},
        "metadata_store": {"type": "sqlite", "url": "sqlite:///{project}/.flowy/metadata.db"},
        "artifact_store": {"type": "local", "path": "{project}/.flowy/artifacts"},
    }
    save_stack(StackDefinition("tracked", components, "test"), "project", flowy_project)
    assert (flowy_project / ".flowy" / "stacks" / "tracked.toml").is_file()


def test_architecture_md_has_its_sections_and_names_only_real_modules():
    import re

    text = (ROOT / "docs" / "architecture.md").read_text()
    for heading in (
        "## The layers of flowy-core", "## What plugins import", "## The import contracts",
        "## The kernel", "## The contracts", "## Built-in features through hooks",
        "## A run, as data flows", "## The step-task protocol", "## Deprecated paths",
        "## Modules of flowy-core today",
    ):  # fmt: skip
        assert heading in text, heading
    table = text.split("## Modules of flowy-core today", 1)[1]
    core = ROOT / "flowy-core" / "src" / "flowy"
    rows = [line for line in table.splitlines() if line.startswith("| ") and "|---" not in line]
    cells = [row.split("|")[2] for row in rows[1:] if row.split("|")[1].strip() != "testing"]
    listed = [m for cell in cells for m in re.findall(r"`([a-z_/]+)`", cell)]
    assert "run/engine" in listed and "kernel/records" in listed
    for name in listed:
        assert (core / f"{name}.py").is_file() or (core / name).is_dir(), name
    # ... and every module of the layers is in it (old-path shims are not modules of a layer)
    layers = ("kernel", "artifacts", "stacks", "run", "tracking", "builtin")
    modules = {
        f"{layer}/{path.stem}"
        for layer in layers
        for path in (core / layer).glob("*.py")
        if path.stem != "__init__" and "flowy._moved" not in path.read_text()
    }
    assert sorted(modules - set(listed)) == []
