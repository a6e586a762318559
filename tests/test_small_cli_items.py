"""Issue #12 item 10, the smaller items: each through the real ``flowy`` command.

One project per module holds a two-step pipeline whose first step generates
its data (no input from outside) and whose second trains a scikit-learn
model; the tests read it with the CLI and check each message's wording.
"""

from __future__ import annotations

import json
import re
import textwrap

import pytest

from tests.test_cli import make_runner, user_error

PIPELINE = textwrap.dedent("""
    from flowy import Context, Pipeline, step
    from sklearn.linear_model import LinearRegression


    @step
    def make_data(n: int) -> dict:
        return {"x": [[float(i)] for i in range(n)], "y": [2.0 * i for i in range(n)]}


    @step
    def train(make_data: dict) -> LinearRegression:
        return LinearRegression().fit(make_data["x"], make_data["y"])


    p = Pipeline("reg", steps=[make_data, train], context=Context(n=20))
""")


@pytest.fixture(scope="module")
def proj(tmp_path_factory: pytest.TempPathFactory):
    """A project with one completed run; returns (flowy, run id, {output: artifact id})."""
    root = tmp_path_factory.mktemp("small")
    project = root / "project"
    (project / ".flowy").mkdir(parents=True)
    (project / "pipeline.py").write_text(PIPELINE)
    flowy = make_runner(project, root / "home", {"FLOWY_USER": "alice"})
    flowy("run", "pipeline.py")
    runs = json.loads(flowy("runs", "list", "--json").stdout)
    run_id = runs[0]["run_id"]
    arts = json.loads(flowy("artifacts", "list", "--run", run_id, "--json").stdout)
    ids = {a.get("name") or a["artifact"]["name"]: a.get("artifact_id") for a in arts}
    return flowy, run_id, ids, project


def test_model_register_refuses_plain_data_naming_its_type(proj) -> None:
    flowy, _, ids, _ = proj
    done = flowy("model", "register", "notamodel", ids["make_data"][:12], code=None)
    text = user_error(
        done, "is a builtins.dict", "not a model", "Register an artifact that holds a model"
    )
    assert "flowy.tracking.assets.Model" in text
    listed = flowy("model", "list").stdout
    assert "notamodel" not in listed  # nothing half-written


def test_model_show_generated_data_dates_and_history(proj) -> None:
    flowy, _, ids, _ = proj
    flowy("model", "register", "reg-model", ids["train"])
    flowy("model", "promote", "reg-model", "1", "--to", "staging")
    data = json.loads(flowy("model", "show", "reg-model", "--json").stdout)
    # The first step generated the data: it is the training data, with the params and code.
    assert [d["artifact_id"] for d in data["training_data"]] == [ids["make_data"]]
    assert data["data_generated_from"]["params"] == {"n": 20}
    assert set(data["data_generated_from"]["code"]) == {"make_data"}
    assert isinstance(data["created_at"], float)  # --json keeps the machine value
    text = flowy("model", "show", "reg-model").stdout
    assert "None" not in text
    assert re.search(r"created_at: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d", text), text
    assert not re.search(r"created_at: \d{9,}", text), text
    register_row = next(line for line in text.splitlines() if " register " in line)
    assert register_row.split()[4] == "-", register_row  # 'from' of a new version


def test_cache_clear_unknown_step_names_it_and_lists_known(proj) -> None:
    flowy, *_ = proj
    before = flowy("cache", "stats", "--json").stdout
    done = flowy("cache", "clear", "--step", "nosuch", "--yes", code=None)
    text = user_error(done, "no step named 'nosuch'", "known steps: make_data, train")
    assert "Cleared" not in done.stdout + text
    assert flowy("cache", "stats", "--json").stdout == before  # nothing cleared


TINY = textwrap.dedent("""
    from flowy import Context, Pipeline, log_params, step


    @step
    def make(n: int) -> list:
        log_params({"rows": n * 2})
        return list(range(n)){edit}


    @step
    def total(make: list) -> int:
        return sum(make)


    p = Pipeline("tiny", steps=[make, total], context=Context(n=3))
""")


def test_cache_explain_own_params_and_the_matching_entry(tmp_path) -> None:
    project = tmp_path / "project"
    (project / ".flowy").mkdir(parents=True)
    (project / "pipe.py").write_text(TINY.replace("{edit}", ""))
    flowy = make_runner(project, tmp_path / "home")
    flowy("run", "pipe.py", "-p", "n=3")
    flowy("run", "pipe.py", "-p", "n=4")

    def make_step(*params: str) -> dict:
        out = json.loads(flowy("cache", "explain", "pipe.py", *params, "--json").stdout)
        return next(s for s in out["steps"] if s["step"] == "make")

    # A logged value (rows) is not a step parameter: only n is named.
    assert make_step("-p", "n=5")["details"] == ["parameter n: 4 -> 5"]
    # After a code change, n=3 is compared with the n=3 entry (not the newer n=4 one).
    (project / "pipe.py").write_text(TINY.replace("{edit}", " + []"))
    explained = make_step("-p", "n=3")
    assert explained["changed"] == ["code_hash"], explained
    assert explained["details"] == [], explained


def test_config_show_effective_stack_and_set_names_bad_value(tmp_path) -> None:
    project = tmp_path / "project"
    (project / ".flowy").mkdir(parents=True)
    flowy = make_runner(project, tmp_path / "home")
    shown = flowy("config", "show").stdout
    row = next(line for line in shown.splitlines() if line.startswith("active_stack"))
    assert '"local"' in row and "null" not in row and "default" in row, row
    data = json.loads(flowy("config", "show", "--json").stdout)["settings"]["active_stack"]
    assert data["value"] == "local"
    # A bad value names the setting, the value and the allowed values, not a file.
    done = flowy("config", "set", "progress", "maybe", code=None)
    text = user_error(done, "Setting 'progress' cannot be 'maybe'", "Allowed values: true or false")
    assert "config.toml" not in text and "Invalid configuration" not in text
    assert not (project / ".flowy" / "config.toml").exists()  # nothing half-written
    done = flowy("config", "set", "keep_days", "soon", code=None)
    user_error(done, "Setting 'keep_days' cannot be 'soon'", "a number, 0 or more")


def test_runs_list_filter_without_match_says_so(proj) -> None:
    flowy, *_ = proj
    text = " ".join(flowy("runs", "list", "--status", "running").stdout.split())
    assert "No runs yet" not in text
    assert "No runs match status 'running' (1 run recorded in all)" in text, text
    assert "`flowy runs list`" in text
    typo = " ".join(flowy("runs", "list", "--status", "runing").stdout.split())
    assert "Statuses are: running, completed, failed" in typo, typo


def test_run_summary_time_is_the_runs_list_duration(tmp_path) -> None:
    project = tmp_path / "project"
    (project / ".flowy").mkdir(parents=True)
    (project / "pipe.py").write_text(TINY.replace("{edit}", ""))
    flowy = make_runner(project, tmp_path / "home")
    out = flowy("run", "pipe.py").stdout
    took = re.search(r"Run (\w+) completed in (.+?) \(", out)
    assert took, out
    listed = json.loads(flowy("runs", "list", "--json").stdout)[0]
    assert listed["run_id"] == took.group(1)
    row = next(line for line in flowy("runs", "list").stdout.splitlines() if "tiny" in line)
    assert f"  {took.group(2)}  " in row, (took.group(2), row)


def test_run_result_repr_is_short(tmp_path) -> None:
    import os
    import subprocess
    import sys

    project = tmp_path / "project"
    (project / ".flowy").mkdir(parents=True)
    (project / "pipe.py").write_text(TINY.replace("{edit}", ""))
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWY_")}
    env.update(
        FLOWY_HOME=str(tmp_path / "home"),
        FLOWY_LOAD_PLUGINS="flowy-executor-local,flowy-store-sqlite,flowy-materializers",
    )
    code = "import pipe\nr = pipe.p.run()\nprint(repr(r))\n"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=project, env=env, capture_output=True, text=True,
        timeout=120, check=True,
    )  # fmt: skip
    shown = done.stdout.strip().splitlines()[-1]
    assert len(shown) < 200, shown
    assert re.fullmatch(
        r"<RunResult \w{32} pipeline='tiny' status='completed' steps=2 \(2 completed\) "
        r"outputs=2>",
        shown,
    ), shown


def test_stack_message_has_no_empty_parentheses(tmp_path) -> None:
    project = tmp_path / "project"
    (project / ".flowy").mkdir(parents=True)
    flowy = make_runner(project, tmp_path / "home")
    done = flowy("stack", "register", "half", "--executor", "local", code=None)
    text = user_error(done, "Stack 'half' has no artifact_store, metadata_store")
    assert "()" not in text


PICKLED = textwrap.dedent("""
    from flowy import Pipeline, step


    class Thing:
        def __init__(self):
            self.v = 1


    @step(allow_pickle=True)
    def make() -> Thing:
        return Thing()


    @step
    def use(make: Thing) -> int:
        return make.v


    p = Pipeline("pk", steps=[make, use])
""")


def test_pickle_hint_names_a_setting_that_works(tmp_path) -> None:
    project = tmp_path / "project"
    (project / ".flowy").mkdir(parents=True)
    (project / "pk.py").write_text(PICKLED)
    flowy = make_runner(project, tmp_path / "home")
    out = " ".join(flowy("run", "pk.py", code=None).stdout.split())
    assert "UnsafeArtifactError" in out, out
    assert "stack's config" not in out
    assert "`@step(allow_pickle=True)` on the step that reads it" in out, out
    assert "`flowy config set allow_pickle true`" in out, out
    flowy("config", "set", "allow_pickle", "true")  # doing what the hint says works
    assert "completed" in flowy("run", "pk.py").stdout


def test_artifacts_show_prints_a_date_time_and_json_keeps_seconds(proj) -> None:
    flowy, _, ids, _ = proj
    text = flowy("artifacts", "show", ids["make_data"]).stdout
    assert re.search(r"created_at: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d", text), text
    data = json.loads(flowy("artifacts", "show", ids["make_data"], "--json").stdout)
    assert isinstance(data["created_at"], float)
