"""flowy.run.loader, flowy.tracking.client and flowy.run.explain on a real local stack
(SQLite, files)."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
from flowy.kernel.errors import ChecksumMismatchError, FlowyError, RunNotFoundError
from flowy.kernel.plugins import FlowyPlugins
from flowy.kernel.user_modules import module_name_for
from flowy.run.explain import explain_cache
from flowy.run.loader import PipelineLoadError, load_pipeline, split_spec
from flowy.tracking.client import Client

PIPELINE = """
from helper import scale
from flowy import Context, Pipeline, step


@step
def source(n: int) -> list:
    print("making", n)
    return list(range(n))


@step
def scaled(source: list, factor: int = 2) -> list:
    return [scale(x, factor) for x in source]


@step(cache=False)
def stamp(scaled: list) -> int:
    return len(scaled)


@step(when=lambda ctx: ctx.get("extra", False))
def optional(scaled: list) -> int:
    return 1


pipe = Pipeline("lce", steps=[source, scaled, stamp, optional], context=Context(n=3))
"""


def write(folder: Path, name: str, source: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(source))
    return path


@pytest.fixture
def pipeline_file(project: Path) -> Path:
    write(project, "helper.py", "def scale(x, factor):\n    return x * factor\n")
    return write(project, "lce_pipeline.py", PIPELINE)


# -- loader -----------------------------------------------------------------


def test_split_spec() -> None:
    assert split_spec("a/b.py:train") == (Path("a/b.py"), "train")
    assert split_spec("a/b.py") == (Path("a/b.py"), None)
    assert split_spec("C:/x/b.py") == (Path("C:/x/b.py"), None)


def test_load_by_variable_or_name_stable_module(pipeline_file: Path) -> None:
    pipe = load_pipeline(pipeline_file)
    assert pipe.name == "lce"
    assert load_pipeline(f"{pipeline_file}:pipe") is pipe
    assert load_pipeline(f"{pipeline_file}:lce") is pipe
    module = sys.modules[module_name_for(pipeline_file)]
    assert module.__flowy_path__ == str(pipeline_file.resolve())
    assert str(pipeline_file.parent.resolve()) in sys.path  # sibling `helper` imported
    assert module_name_for(pipeline_file) == module_name_for(
        pipeline_file.parent / "." / pipeline_file.name
    )


def test_loader_errors(project: Path) -> None:
    with pytest.raises(PipelineLoadError, match="does not exist"):
        load_pipeline(project / "missing.py")
    bad = write(project, "bad_syntax.py", "x = (\n")
    with pytest.raises(PipelineLoadError, match=r"bad_syntax\.py:1"):
        load_pipeline(bad)
    none = write(project, "no_pipe.py", "x = 1\n")
    with pytest.raises(PipelineLoadError, match="defines no pipeline"):
        load_pipeline(none)
    two = write(
        project,
        "two_pipes.py",
        "from flowy import Pipeline, step\n@step\ndef a(): return 1\n"
        "p = Pipeline('p', steps=[a])\nq = Pipeline('q', steps=[a])\n",
    )
    with pytest.raises(PipelineLoadError, match="several pipelines"):
        load_pipeline(two)
    with pytest.raises(PipelineLoadError, match="no pipeline named 'z'"):
        load_pipeline(f"{two}:z")
    assert load_pipeline(f"{two}:q").name == "q"
    raising = write(project, "raising.py", "import os\n\nraise KeyError('nope')\n")
    with pytest.raises(PipelineLoadError, match=r"raising\.py:3.*KeyError"):
        load_pipeline(raising)


# -- client -----------------------------------------------------------------


def test_client_reads_runs_steps_logs_artifacts(
    pipeline_file: Path, plugins: FlowyPlugins, project: Path
) -> None:
    from flowy.run.engine import run_pipeline

    result = run_pipeline(load_pipeline(pipeline_file), plugins=plugins, project=project)
    assert result.ok
    with Client(plugins=plugins) as client:
        assert client.stack_name == "local"
        runs = client.runs()
        assert [r.run_id for r in runs] == [result.run_id]
        assert client.run(result.run_id[:8]).pipeline == "lce"
        steps = {s.step: s for s in client.steps(result.run_id)}
        assert steps["optional"].status == "skipped"
        assert client.logs(result.run_id, "source") == {"source": "making 3\n"}
        with pytest.raises(RunNotFoundError, match="no step 'nope'"):
            client.logs(result.run_id, "nope")
        outputs = client.outputs(result.run_id)
        assert client.load(outputs["scaled"].artifact_id) == [0, 2, 4]
        assert client.load(outputs["stamp"]) == 3
        assert {a.name for a in client.artifacts(run_id=result.run_id)} == {
            "source",
            "scaled",
            "stamp",
        }
        ref = client.artifact(outputs["source"].artifact_id[:10])
        Path(ref.uri).write_bytes(Path(ref.uri).read_bytes()[:-1] + b"]]")
        with pytest.raises(ChecksumMismatchError):
            client.load(ref)
        assert client.cache_stats()["entries"] == 2
        assert client.clear_cache(step="scaled") == 1
    with pytest.raises(FlowyError, match="No stack named 'ghost'"):
        Client(stack="ghost", plugins=plugins).runs()


# -- explain ----------------------------------------------------------------


def test_explain_verdicts(pipeline_file: Path, plugins: FlowyPlugins, project: Path) -> None:
    from flowy.run.engine import run_pipeline

    pipe = load_pipeline(pipeline_file)
    before = {e.step: e for e in explain_cache(pipe, plugins=plugins, project=project)}
    assert before["source"].verdict == "miss" and "never cached" in before["source"].reason
    assert before["scaled"].verdict == "maybe"
    assert before["stamp"].verdict == "uncached"
    assert before["optional"].verdict == "skipped"

    run_pipeline(pipe, plugins=plugins, project=project)
    hits_before = Client(plugins=plugins).cache_stats()["hits"]
    after = {e.step: e for e in explain_cache(pipe, plugins=plugins, project=project)}
    assert after["source"].verdict == "hit" and after["scaled"].verdict == "hit"
    assert Client(plugins=plugins).cache_stats()["hits"] == hits_before  # explain writes nothing

    changed = explain_cache(pipe, {"factor": 3}, plugins=plugins, project=project)
    scaled = next(e for e in changed if e.step == "scaled")
    assert scaled.verdict == "miss" and scaled.changed == ["input_hash"]
    assert "parameter factor: its default -> 3" in scaled.details
    source = next(e for e in explain_cache(pipe, {"n": 4}, plugins=plugins, project=project))
    assert source.details == ["parameter n: 3 -> 4"]
    with pytest.raises(FlowyError, match="Unknown parameter"):
        explain_cache(pipe, {"bogus": 1}, plugins=plugins, project=project)
