"""Names are checked once, when a pipeline is built; artifact keys never collide.

Issue #11 items 3 and 7: step ``a`` with output ``b/c`` and step ``a/b`` with
output ``c`` both wrote ``run/a/b/c...`` (one artifact silently lost), steps
``X`` and ``x`` shared files on case-insensitive filesystems, logged files
named ``cm`` and ``cm.png`` shared one file, and ``flowy stack register
$'nl\\n'`` created ``nl\\n.toml``. Every test here runs real pipelines on the
real local stack (SQLite file, artifact folder) or the real ``flowy`` command.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import flowy
import pytest
from flowy import Pipeline, step
from flowy.kernel.errors import ArtifactPathError, PipelineDefinitionError, StepDefinitionError
from flowy.kernel.plugins import FlowyPlugins
from flowy.run.engine import run_pipeline
from flowy.run.steps import Step
from flowy.tracking.client import Client
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

FLOWY_SCRIPT = Path(sys.executable).with_name("flowy")
FLOWY = [str(FLOWY_SCRIPT)] if FLOWY_SCRIPT.exists() else [sys.executable, "-m", "flowy_cli.main"]
_pipelines = itertools.count()


def emitter(outputs: list[str]) -> Any:
    """A step function returning one distinct value per output (a dict for several)."""

    def emit() -> Any:
        values = {o: f"value of {o}" for o in outputs}
        return values if len(outputs) > 1 else values[outputs[0]]

    return emit


def all_artifacts(result: Any, plugins: FlowyPlugins) -> list[Any]:
    """Every artifact the run wrote: outputs and logged files of every step."""
    with Client(plugins=plugins) as client:
        return [client.artifact(aid) for s in result.steps.values() for aid in s.outputs.values()]


def assert_no_two_share_a_file(refs: list[Any]) -> None:
    """Distinct URIs even case-folded (macOS and Windows folders ignore case)."""
    folded = [ref.uri.casefold() for ref in refs]
    assert len(set(folded)) == len(folded), sorted(folded)


# -- the two collisions of the issue, as real pipelines ------------------------


def test_step_a_output_b_c_and_step_a_b_output_c_are_refused_when_declared() -> None:
    with pytest.raises(StepDefinitionError, match=r"Step 'a': Invalid output name 'b/c'.*'/'"):
        Step(emitter(["b/c"]), name="a", outputs=["b/c"])
    with pytest.raises(StepDefinitionError, match=r"Invalid step name 'a/b'.*never be taken"):
        step(name="a/b", outputs=["c"])(emitter(["c"]))


def test_a_step_renamed_after_declaration_is_refused_when_the_pipeline_is_built() -> None:
    first, second = Step(emitter(["c"]), name="a", outputs=["c"]), Step(emitter(["d"]), name="b")
    second.name = "a/b"  # attributes can change after @step: the pipeline checks again
    with pytest.raises(PipelineDefinitionError, match=r"Pipeline 'p': Invalid step name 'a/b'"):
        Pipeline("p", [first, second])


def test_names_differing_only_in_case_get_files_of_their_own(
    project: Path, plugins: FlowyPlugins
) -> None:
    steps = [Step(emitter([n]), name=n, cache=False) for n in ("X", "x", "Model", "model")]
    result = run_pipeline(Pipeline("cases", steps), plugins=plugins, project=project)
    assert result.ok
    refs = all_artifacts(result, plugins)
    assert_no_two_share_a_file(refs)
    with Client(plugins=plugins, project=project) as client:
        for name in ("X", "x", "Model", "model"):
            assert client.load(result.artifacts[name].artifact_id) == f"value of {name}"


def test_logged_files_never_share_a_file_and_load_back_as_written(
    project: Path, plugins: FlowyPlugins, tmp_path: Path
) -> None:
    files = {}
    for n, label in enumerate(["cm", "cm.png", "Plot.png", "plot.png"]):
        files[label] = tmp_path / f"file{n}.png"
        files[label].write_bytes(f"bytes of {label}".encode())

    @step
    def report() -> int:
        for label, path in files.items():
            flowy.log_artifact(path, name=label)
        return 1

    result = run_pipeline(Pipeline("logged", [report]), plugins=plugins, project=project)
    assert result.ok
    refs = all_artifacts(result, plugins)
    assert_no_two_share_a_file(refs)
    with Client(plugins=plugins, project=project) as client:
        for label in files:
            aid = result.steps["report"].outputs[label]
            assert client.load(aid) == f"bytes of {label}".encode()


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("report", "already names an output of the step"),
        ("../escape", "Invalid logged artifact name '../escape'"),
        ("nl\n", "Invalid logged artifact name 'nl\\n'"),
    ],
)
def test_a_logged_name_that_would_collide_or_escape_is_refused_at_log_time(
    name: str, fragment: str, project: Path, plugins: FlowyPlugins, tmp_path: Path
) -> None:
    source = tmp_path / "report.html"
    source.write_text("<p>hi</p>")

    @step
    def report() -> int:
        flowy.log_artifact(source, name=name)
        return 1

    result = run_pipeline(Pipeline("refused", [report]), plugins=plugins, project=project)
    failed = result.steps["report"]
    assert failed.status == "failed"
    assert "flowy.log_artifact in step 'report'" in (failed.error or "")
    assert fragment in (failed.error or "")


# -- every name: refused at build, or round-trips with a file of its own --------

TRICKY = ["a", "A", "b", "x.y", "x-y", "_", "X_1", ".", "..", ".a", "-a", "a.", "a/b", "a\\b"]
TRICKY += ["a\n", "a\x1b", "é", "a b", "a~1", "logged", "CON", "<lambda>", "a" * 129]
name_text = st.one_of(
    st.sampled_from(TRICKY),
    st.text(alphabet="aAbBxX0_", min_size=1, max_size=3),  # plain, and colliding when folded
    st.text(alphabet="aAbB0_-.", min_size=1, max_size=4),
    st.text(alphabet="aAbB0_-.~/\n é", min_size=1, max_size=4),
)
step_spec = st.tuples(name_text, st.none() | st.lists(name_text, min_size=1, max_size=3))
pipeline_spec = st.lists(step_spec, min_size=1, max_size=4)


def path_trick(name: str) -> bool:
    """A name that must never be accepted: a path, a hidden file, a control or foreign char."""
    return (
        name in (".", "..")
        or name.startswith(".")
        or any(c in name for c in "/\\\n\x1b~é ")
        or len(name) > 128
    )


def plain(spec: list[tuple[str, list[str] | None]]) -> bool:
    """Every name a distinct ASCII identifier: such a pipeline must be accepted."""
    steps = [s for s, _ in spec]
    outputs = [o for s, outs in spec for o in (outs if outs is not None else [s])]
    return (
        all(n.isascii() and n.isidentifier() and len(n) <= 128 for n in steps + outputs)
        and len(set(steps)) == len(steps)
        and len(set(outputs)) == len(outputs)
    )


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(spec=pipeline_spec)
def test_every_name_is_refused_at_build_or_round_trips_with_its_own_file(
    spec: list[tuple[str, list[str] | None]], project: Path, plugins: FlowyPlugins
) -> None:
    names = [s for s, _ in spec] + [o for _, outs in spec for o in outs or []]
    try:
        steps = [
            Step(emitter(outs if outs is not None else [s]), name=s, outputs=outs, cache=False)
            for s, outs in spec
        ]
        pipeline = Pipeline(f"names{next(_pipelines)}", steps)
    except (StepDefinitionError, PipelineDefinitionError) as exc:
        event("refused at build")
        assert not plain(spec), f"a plain pipeline was refused: {exc}"
        named = any(repr(s) in str(exc) or repr(s[:60]) in str(exc) for s, _ in spec)
        assert named, f"the error names no step: {exc}"  # (a very long name is cut short)
        return
    assert not any(path_trick(n) for n in names), f"accepted {names}"
    event("accepted and run")
    result = run_pipeline(pipeline, plugins=plugins, project=project)
    assert result.ok, {s: r.error for s, r in result.steps.items()}
    refs = all_artifacts(result, plugins)
    assert len(refs) == sum(len(s.outputs) for s in steps)
    assert_no_two_share_a_file(refs)
    root = (project / ".flowy").resolve()
    with Client(plugins=plugins, project=project) as client:
        for s in steps:
            for out in s.outputs:
                ref = result.artifacts[out]
                assert Path(ref.uri).resolve().is_relative_to(root)
                assert client.load(ref.artifact_id) == f"value of {out}"


# -- a link planted in the artifact folder is never followed out of it ----------


def test_loading_an_artifact_replaced_by_a_link_out_of_the_store_is_refused(
    project: Path, plugins: FlowyPlugins, tmp_path: Path
) -> None:
    result = run_pipeline(
        Pipeline("linked", [Step(emitter(["value"]), name="value")]),
        plugins=plugins,
        project=project,
    )
    ref = result.artifacts["value"]
    outside = tmp_path / "outside"
    outside.mkdir()
    copy = outside / "copy.json"
    copy.write_bytes(Path(ref.uri).read_bytes())  # same bytes: the checksum would pass
    os.unlink(ref.uri)
    os.symlink(copy, ref.uri)
    with (
        Client(plugins=plugins, project=project) as client,
        pytest.raises(ArtifactPathError, match="outside the artifact store"),
    ):
        client.load(ref.artifact_id)


# -- names on the command line: fullmatch, so no trailing newline ---------------


def test_stack_register_refuses_a_trailing_newline_and_creates_no_file(
    project: Path, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWY_")}
    env.update(
        FLOWY_HOME=str(tmp_path / "home"),
        FLOWY_LOAD_PLUGINS="flowy-executor-local,flowy-store-sqlite",
    )
    before = {p for p in tmp_path.rglob("*")}
    complete = ["--executor", "local", "--metadata-store", "sqlite", "--artifact-store", "local"]
    complete += ["--metadata-store-option", "url=sqlite:///{project}/.flowy/nl.db"]
    complete += ["--artifact-store-option", "path={project}/.flowy/nl"]
    done = subprocess.run(
        [*FLOWY, "stack", "register", "nl\n", *complete],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert "Invalid stack name 'nl\\n'" in done.stderr and "U+000A" in done.stderr
    assert "Traceback" not in done.stderr
    created = {p for p in tmp_path.rglob("*")} - before
    assert not [p for p in created if p.suffix == ".toml" or "\n" in p.name], created


@pytest.mark.parametrize("experiment", ["nl\n", "\x1b[31mred", " padded", ""])
def test_experiment_names_with_control_characters_are_refused_before_a_run(
    experiment: str, project: Path, plugins: FlowyPlugins
) -> None:
    steps = [Step(emitter(["value"]), name="value")]
    with pytest.raises(PipelineDefinitionError, match="Invalid experiment name"):
        Pipeline("exp", steps, experiment=experiment)
    with pytest.raises(flowy.FlowyError, match="Invalid experiment name"):
        run_pipeline(
            Pipeline("exp", steps), plugins=plugins, project=project, experiment=experiment
        )
    with Client(plugins=plugins, project=project) as client:
        assert client.runs() == []  # refused before anything was recorded


# -- the keys themselves: distinct for distinct names, even case-folded ------------

valid_step = st.from_regex(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,6}[A-Za-z0-9_-])?", fullmatch=True)
valid_output = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,7}", fullmatch=True)
extensions = st.sampled_from(["", ".json", ".npy", ".tar.gz", ".json.gz", ".gz", ".bin"])


@settings(max_examples=500, deadline=None, database=None)
@example(("a", "X", False, ".json"), ("a", "x", False, ".json"))
@example(("A", "o", False, ".npy"), ("a", "o", False, ".npy"))
@example(("s", "b", False, ".json.gz"), ("s", "b.json", True, ".gz"))
@example(("s", "logged", False, ""), ("s", "x", True, ""))
@example(("s", "Plot.png", True, ""), ("s", "plot.png", True, ""))
@given(
    a=st.tuples(valid_step, valid_output | valid_step, st.booleans(), extensions),
    b=st.tuples(valid_step, valid_output | valid_step, st.booleans(), extensions),
)
def test_distinct_artifacts_never_get_one_key_even_case_folded(
    a: tuple[str, str, bool, str], b: tuple[str, str, bool, str]
) -> None:
    """(step, name, logged?, extension): two different artifacts of one run, two keys."""
    from flowy.artifacts.keys import extension, logged_key, output_key
    from flowy.kernel.names import OUTPUT

    def key(step_name: str, name: str, logged: bool, ext: str) -> str | None:
        if logged:
            return logged_key("", "run", step_name, name)
        if not OUTPUT.is_valid(name):
            return None
        return output_key("", "run", step_name, name) + extension("m", ext)

    ka, kb = key(*a), key(*b)
    if ka is None or kb is None or a[:3] == b[:3]:
        return  # not both artifacts, or the same artifact (one name, one materializer)
    fa, fb = ka.casefold(), kb.casefold()
    assert fa != fb, (a, b, ka)
    assert not fa.startswith(fb + "/") and not fb.startswith(fa + "/"), (ka, kb)  # file vs folder


def test_stack_delete_never_builds_a_path_from_the_name(project: Path, tmp_path: Path) -> None:
    """``flowy stack delete ../victim`` once deleted ``.flowy/victim.toml``."""
    (project / ".flowy" / "stacks").mkdir(exist_ok=True)  # as after any `stack register`
    victim = project / ".flowy" / "victim.toml"
    victim.write_text("mine = 1\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWY_")}
    env.update(FLOWY_HOME=str(tmp_path / "home"), FLOWY_LOAD_PLUGINS="flowy-executor-local")
    for name in ("../victim", "../../project/.flowy/victim"):
        done = subprocess.run(
            [*FLOWY, "stack", "delete", name, "--yes"],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode != 0 and "No stack file named" in done.stderr, done.stderr
    assert victim.read_text() == "mine = 1\n"
