"""``@step(map=...)``: one step run per element of an upstream list (issue 14).

Every test runs a real pipeline on a real stack (SQLite file, local artifact
store, the local executor's worker processes or a real Dask cluster) and checks
what was recorded: which elements ran, in what order the results come back,
what the cache served, and what a failure does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flowy.kernel.errors import ParameterError, StepDefinitionError
from flowy.run.engine import run_pipeline
from flowy.stacks.resolution import resolve_stack
from flowy.testing._executor_support import load_path_module

MAPPED = """
import os
from pathlib import Path
from flowy import Pipeline, step

MARKS = Path(os.environ["FLOWY_TEST_MARKS"])

@step
def numbers(values: list) -> list:
    return list(values)

@step(map="numbers", outputs=["squared"])
def square(numbers: int) -> int:
    with MARKS.open("a") as f:
        f.write(f"{numbers}\\n")
    return numbers * numbers

@step
def total(squared: list) -> int:
    return sum(squared)

pipeline = Pipeline("mapped", [numbers, square, total])
"""


@pytest.fixture
def marks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "marks.txt"
    path.touch()
    monkeypatch.setenv("FLOWY_TEST_MARKS", str(path))
    return path


def step_records(project: Path, plugins: Any, run_id: str) -> dict[str, Any]:
    stack = resolve_stack("local", plugins, project)
    try:
        return {r.step: r for r in stack.metadata_store.get_step_runs(run_id)}
    finally:
        stack.close()


EXECUTORS = {
    "local-sequential": ("local", {"max_workers": 1}),
    "local-parallel": ("local", {"max_workers": 2}),
    "dask": ("dask", {"n_workers": 2}),
}


@pytest.mark.parametrize("label", list(EXECUTORS))
def test_each_element_runs_once_and_results_keep_input_order(
    label: str, project: Path, all_plugins: Any, tmp_path: Path, marks: Path
) -> None:
    module = load_path_module(tmp_path, f"mapped_{label.replace('-', '_')}", MAPPED)
    stack, options = EXECUTORS[label]
    values = [7, 3, 9, 1, 5, 8, 2]
    result = run_pipeline(
        module.pipeline,
        stack=stack,
        params={"values": values},
        plugins=all_plugins,
        project=project,
        executor_options=options,
    )
    assert result.status == "completed"
    assert result["squared"] == [v * v for v in values]  # input order, whatever ran first
    assert result["total"] == sum(v * v for v in values)
    assert sorted(int(x) for x in marks.read_text().split()) == sorted(values)  # once each
    records = step_records(project, all_plugins, result.run_id)
    for i in range(len(values)):
        item = records[f"square[{i}]"]
        assert item.status == "completed"
        assert item.inputs["numbers"] == records["numbers"].outputs[f"numbers[{i}]"]
    assert records["square"].status == "completed"


def test_changing_one_element_of_many_reruns_exactly_one_item(
    project: Path, all_plugins: Any, tmp_path: Path, marks: Path
) -> None:
    module = load_path_module(tmp_path, "mapped_rerun", MAPPED)
    values = list(range(40))
    first = run_pipeline(module.pipeline, params={"values": values}, plugins=all_plugins)
    assert first.ok
    marks.write_text("")
    values[17] = 1000
    second = run_pipeline(module.pipeline, params={"values": values}, plugins=all_plugins)
    assert second.ok
    assert marks.read_text().split() == ["1000"]
    records = step_records(project, all_plugins, second.run_id)
    statuses = [records[f"square[{i}]"].status for i in range(40)]
    assert statuses.count("completed") == 1 and statuses[17] == "completed"
    assert statuses.count("cached") == 39
    assert second["total"] == sum(v * v for v in values)
    marks.write_text("")
    third = run_pipeline(module.pipeline, params={"values": values}, plugins=all_plugins)
    assert marks.read_text() == ""  # nothing re-ran: every element, and the fan-in, cached
    assert step_records(project, all_plugins, third.run_id)["total"].status == "cached"


FLAKY = """
import os
from pathlib import Path
from flowy import Pipeline, step

MARKS = Path(os.environ["FLOWY_TEST_MARKS"])

@step
def numbers(values: list) -> list:
    return list(values)

@step(map="numbers", outputs=["checked"], retries=1, retry_backoff=0.01, max_failures=MAX)
def check(numbers: int) -> int:
    with MARKS.open("a") as f:
        f.write(f"{numbers}\\n")
    if numbers < 0:
        raise ValueError(f"negative: {numbers}")
    if numbers == 2 and MARKS.read_text().split().count("2") == 1:
        raise RuntimeError("first attempt of 2 fails")
    return numbers

@step
def kept(checked: list) -> list:
    return checked

pipeline = Pipeline("flaky", [numbers, check, kept])
"""


def test_failed_elements_within_max_failures_pass_the_others_on(
    project: Path, all_plugins: Any, tmp_path: Path, marks: Path
) -> None:
    module = load_path_module(tmp_path, "flaky_two", FLAKY.replace("MAX", "2"))
    result = run_pipeline(
        module.pipeline, params={"values": [1, -1, 2, 3, -5]}, plugins=all_plugins
    )
    assert result.status == "completed"
    assert result["kept"] == [1, 2, 3]
    records = step_records(project, all_plugins, result.run_id)
    assert records["check[1]"].status == "failed" and "negative: -1" in records["check[1]"].error
    assert records["check[4]"].status == "failed"
    assert records["check[1]"].attempts == 2  # retried alone, and failed again
    assert records["check[2]"].status == "completed" and records["check[2]"].attempts == 2
    assert records["check[0]"].attempts == 1
    assert records["check"].status == "completed"
    assert "2 left out (check[1], check[4])" in records["check"].logs
    assert marks.read_text().split().count("1") == 1  # the others were not retried


def test_one_failure_too_many_fails_the_map_and_skips_what_follows(
    project: Path, all_plugins: Any, tmp_path: Path, marks: Path
) -> None:
    module = load_path_module(tmp_path, "flaky_one", FLAKY.replace("MAX", "1"))
    result = run_pipeline(module.pipeline, params={"values": [1, -1, 3, -5]}, plugins=all_plugins)
    assert result.status == "failed"
    records = step_records(project, all_plugins, result.run_id)
    assert records["check"].status == "failed"
    assert "2 of 4 elements did not complete (check[1], check[3])" in records["check"].error
    assert records["kept"].status == "skipped"


CHAINED = """
import numpy as np
from flowy import Pipeline, step

@step
def frames(n: int) -> list:
    return [np.full((3, 2), float(i)) for i in range(n)]

@step(map="frames", outputs=["scaled"])
def scale(frames):
    return frames * 10

@step(map="scaled", outputs=["sums"])
def summed(scaled) -> float:
    return float(scaled.sum())

@step
def report(sums: list, scaled: list) -> dict:
    return {"sums": sums, "shapes": [list(a.shape) for a in scaled]}

pipeline = Pipeline("chained", [frames, scale, summed, report])
"""


def test_chained_maps_stay_element_wise_over_arrays(
    project: Path, all_plugins: Any, tmp_path: Path
) -> None:
    module = load_path_module(tmp_path, "chained_maps", CHAINED)
    result = run_pipeline(
        module.pipeline, params={"n": 4}, plugins=all_plugins, executor_options={"max_workers": 2}
    )
    assert result.ok
    assert result["report"] == {"sums": [0.0, 60.0, 120.0, 180.0], "shapes": [[3, 2]] * 4}
    records = step_records(project, all_plugins, result.run_id)
    stack = resolve_stack("local", all_plugins, project)
    try:
        element = stack.metadata_store.get_artifact(records["frames"].outputs["frames[2]"])
    finally:
        stack.close()
    assert element.materializer == "numpy"  # each element by its own type's safe format
    assert records["summed[2]"].inputs["scaled"] == records["scale[2]"].outputs["scaled"]


def test_an_empty_list_maps_to_an_empty_list(
    project: Path, all_plugins: Any, tmp_path: Path, marks: Path
) -> None:
    module = load_path_module(tmp_path, "mapped_empty", MAPPED)
    result = run_pipeline(module.pipeline, params={"values": []}, plugins=all_plugins)
    assert result.ok
    assert result["squared"] == [] and result["total"] == 0


NOT_A_LIST = """
from flowy import Pipeline, step

@step
def numbers() -> dict:
    return {"a": 1}

@step(map="numbers")
def square(numbers: int) -> int:
    return numbers

pipeline = Pipeline("not_a_list", [numbers, square])
"""


def test_mapping_over_something_that_is_not_a_list_fails_with_a_clear_error(
    project: Path, all_plugins: Any, tmp_path: Path
) -> None:
    module = load_path_module(tmp_path, "not_a_list", NOT_A_LIST)
    result = run_pipeline(module.pipeline, plugins=all_plugins)
    assert result.status == "failed"
    records = step_records(project, all_plugins, result.run_id)
    assert "returned a dict as 'numbers', which a downstream step maps over" in (
        records["numbers"].error or ""
    )
    assert records["square"].status == "skipped"


def test_map_options_are_checked_when_the_pipeline_is_built() -> None:
    from flowy import step

    with pytest.raises(StepDefinitionError, match=r"map='item' must name one of its parameters"):
        step(map="item", name="use")(lambda items: items)
    with pytest.raises(StepDefinitionError, match="max_failures=2 needs map="):
        step(max_failures=2, name="use")(lambda items: items)

    with pytest.raises(StepDefinitionError, match="must name one of its parameters"):
        step(map=3, name="use")(lambda items: items)


def test_a_map_over_a_parameter_runs_once_per_value(
    project: Path, all_plugins: Any, write_module: Any
) -> None:
    module = write_module(
        """
        from flowy import Pipeline, step

        @step(map="regions", outputs=["sizes"])
        def size(regions: str, scale: int = 1) -> int:
            return len(regions) * scale

        @step
        def total(sizes: list) -> int:
            return sum(sizes)

        pipeline = Pipeline("by_region", [size, total])
        """
    )
    result = run_pipeline(
        module.pipeline, params={"regions": ["north", "east"], "scale": 2}, plugins=all_plugins
    )
    assert result.ok and result["sizes"] == [10, 8] and result["total"] == 18
    records = step_records(project, all_plugins, result.run_id)
    assert records["size[1]"].params == {"regions": "east", "scale": 2}
    again = run_pipeline(
        module.pipeline, params={"regions": ["north", "south"], "scale": 2}, plugins=all_plugins
    )
    records = step_records(project, all_plugins, again.run_id)
    assert [records["size[0]"].status, records["size[1]"].status] == ["cached", "completed"]
    with pytest.raises(ParameterError, match=r"'regions' .* must be list\[str\] .* got 5"):
        run_pipeline(module.pipeline, params={"regions": 5}, plugins=all_plugins)


def test_a_map_over_an_unannotated_parameter_that_is_not_a_list_fails_clearly(
    project: Path, all_plugins: Any, write_module: Any
) -> None:
    module = write_module(
        """
        from flowy import Pipeline, step

        @step(map="regions")
        def size(regions):
            return len(regions)

        pipeline = Pipeline("by_region_loose", [size])
        """
    )
    bad = run_pipeline(module.pipeline, params={"regions": 5}, plugins=all_plugins)
    assert bad.status == "failed"
    error = step_records(project, all_plugins, bad.run_id)["size"].error or ""
    assert "maps over the parameter 'regions', which is a int (5); give it a list" in error


def test_flowy_run_shows_progress_as_a_count_and_runs_show_lists_elements(
    tmp_path: Path, flowy_env: Any, flowy_runner: Any
) -> None:
    project = tmp_path / "project"
    (project / ".flowy").mkdir(parents=True)
    (project / "p.py").write_text(MAPPED)
    env = flowy_env(tmp_path / "home", FLOWY_PROJECT=str(project))
    env["FLOWY_TEST_MARKS"] = str(tmp_path / "marks.txt")
    flowy = flowy_runner(project, env)
    done = flowy(
        "run", "p.py", "--param", "values=[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20]"
    )
    assert "square[2/20]" in done.stdout and "square[20/20]" in done.stdout
    assert "square[3]: done" not in done.stdout  # counted, not one line per element
    run_id = done.stdout.split("Details: flowy runs show ")[1].split()[0]
    shown = flowy("runs", "show", run_id).stdout
    assert "square[19]" in shown and "(20 elements)" in shown


@pytest.mark.slow
def test_a_map_over_ten_thousand_elements(
    project: Path, all_plugins: Any, tmp_path: Path, marks: Path
) -> None:
    module = load_path_module(tmp_path, "mapped_large", MAPPED)
    values = list(range(10_000))
    result = run_pipeline(
        module.pipeline,
        params={"values": values},
        plugins=all_plugins,
        executor_options={"max_workers": 2},
    )
    assert result.ok
    assert result["total"] == sum(v * v for v in values)
    assert len(marks.read_text().split()) == 10_000


NO_BARRIER = """
import os, time
from pathlib import Path
from flowy import Pipeline, step

SIGNAL = Path(os.environ["FLOWY_TEST_MARKS"]).with_name("second-element-went-on")

@step
def numbers(values: list) -> list:
    return list(values)

@step(map="numbers", outputs=["first"], max_failures=1)
def first(numbers: int) -> str:
    if numbers < 0:
        raise ValueError("negative")
    if numbers == 0:  # waits until element 1 went through the next map too
        for _ in range(1200):
            if SIGNAL.exists():
                return "saw the next map run element 1"
            time.sleep(0.05)
        return "waited in vain"
    return f"first {numbers}"

@step(map="first", outputs=["second"])
def second(first: str) -> str:
    if first == "first 1":
        SIGNAL.touch()
    return first.upper()

@step
def gathered(second: list) -> list:
    return second

pipeline = Pipeline("no_barrier", [numbers, first, second, gathered])
"""


def test_chained_maps_pass_each_element_on_without_waiting_for_the_others(
    project: Path, all_plugins: Any, tmp_path: Path, marks: Path
) -> None:
    """Element 0 of the first map only ends once element 1 of the second map ran: with a
    barrier between the two maps it would wait in vain."""
    module = load_path_module(tmp_path, "no_barrier", NO_BARRIER)
    result = run_pipeline(
        module.pipeline,
        params={"values": [0, 1, -2, 3]},
        plugins=all_plugins,
        executor_options={"max_workers": 2},
    )
    assert result.ok
    assert result["gathered"] == ["SAW THE NEXT MAP RUN ELEMENT 1", "FIRST 1", "FIRST 3"]
    records = step_records(project, all_plugins, result.run_id)
    assert records["first[2]"].status == "failed"
    assert records["second[2]"].status == "skipped"
    assert records["second[2]"].error == "skipped: element first[2] failed"
    assert records["second[1]"].started_at < records["first[0]"].finished_at
    assert records["second"].status == "completed"


def test_a_chained_map_after_a_failed_map_is_recorded_skipped(
    project: Path, all_plugins: Any, tmp_path: Path, marks: Path
) -> None:
    module = load_path_module(
        tmp_path, "no_barrier_failed", NO_BARRIER.replace("max_failures=1", "max_failures=0")
    )
    result = run_pipeline(
        module.pipeline,
        params={"values": [1, -2, 3]},
        plugins=all_plugins,
        executor_options={"max_workers": 2},
    )
    assert result.status == "failed"
    records = step_records(project, all_plugins, result.run_id)
    assert records["first"].status == "failed"
    assert records["second"].status == "skipped"
    assert "upstream step 'first' failed" in (records["second"].error or "")
    assert records["second[0]"].status == "completed"  # it had run: its record stays
    assert records["gathered"].status == "skipped"


FRAME = """
import pandas as pd
from flowy import Pipeline, step

@step
def table() -> pd.DataFrame:
    return pd.DataFrame({"region": ["n", "s"], "x": [1, 2]})

@step(map="table")
def per_row(table) -> int:
    return 1

pipeline = Pipeline("frame_map", [table, per_row])
"""


def test_mapping_over_a_dataframe_says_to_return_a_list_of_frames(
    project: Path, all_plugins: Any, tmp_path: Path
) -> None:
    module = load_path_module(tmp_path, "frame_map", FRAME)
    result = run_pipeline(module.pipeline, plugins=all_plugins)
    assert result.status == "failed"
    error = step_records(project, all_plugins, result.run_id)["table"].error or ""
    assert "returned a DataFrame as 'table'" in error
    assert "[g for _, g in df.groupby('region')]" in error


def test_a_pipeline_mapping_over_a_parameter_maps_over_an_output_once_nested(
    project: Path, all_plugins: Any, write_module: Any
) -> None:
    module = write_module(
        """
        from flowy import Pipeline, step

        @step(map="regions", outputs=["sizes"])
        def size(regions: str) -> int:
            return len(regions)

        @step
        def total(sizes: list) -> int:
            return sum(sizes)

        per_region = Pipeline("per_region", [size, total])

        @step
        def find_regions() -> list:
            return ["north", "south", "west"]

        wired = per_region.as_step(name="pr", inputs={"regions": "find_regions"})
        outer = Pipeline("outer", [find_regions, wired])
        """
    )
    alone = run_pipeline(module.per_region, params={"regions": ["a", "bb"]}, plugins=all_plugins)
    assert alone["total"] == 3
    nested = run_pipeline(module.outer, plugins=all_plugins)
    assert nested.ok and nested["total"] == 14
    records = step_records(project, all_plugins, nested.run_id)
    assert (
        records["pr.size[2]"].inputs["find_regions"]
        == (records["find_regions"].outputs["find_regions[2]"])
    )


def test_a_partial_run_of_the_map_alone_reads_the_elements_an_earlier_run_made(
    project: Path, all_plugins: Any, tmp_path: Path, marks: Path
) -> None:
    module = load_path_module(tmp_path, "mapped_partial", MAPPED)
    first = run_pipeline(module.pipeline, params={"values": [4, 5]}, plugins=all_plugins)
    assert first.ok
    again = run_pipeline(
        module.pipeline, params={"values": [4, 5]}, plugins=all_plugins, only="square",
        no_cache=True,
    )  # fmt: skip
    assert again.ok and again["squared"] == [16, 25]
    before = step_records(project, all_plugins, first.run_id)
    now = step_records(project, all_plugins, again.run_id)
    assert now["numbers"].status == "skipped" and now["square[1]"].status == "completed"
    assert now["square[1]"].inputs["numbers"] == before["numbers"].outputs["numbers[1]"]


def test_flowy_show_marks_a_mapped_step(tmp_path: Path, marks: Path) -> None:
    from flowy.run.dag_view import render

    module = load_path_module(tmp_path, "mapped_show", MAPPED)
    assert "square(numbers) -> squared  [map over numbers]" in render(module.pipeline, "text")
