"""Text from a pipeline or a store reaches the terminal escaped, never obeyed.

A parameter value, a logged parameter, a step's printed output, an error
message, a file path, or a row edited into an old database can hold ESC, CR,
BEL, backspace, C1 controls or a bidi override. Through the real `flowy`
command, piped (plain text: any control character but newline and tab is an
injection) and under a pseudo-terminal (live progress and rich colours: the
hostile sequences must not appear raw), every view shows them as visible
escapes such as ``\\x1b``; ``--json`` keeps the exact values.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

FLOWY_SCRIPT = Path(sys.executable).with_name("flowy")
FLOWY = [str(FLOWY_SCRIPT)] if FLOWY_SCRIPT.exists() else [sys.executable, "-m", "flowy_cli.main"]
FIRST_PARTY = "flowy-executor-local,flowy-store-sqlite,flowy-materializers"

#: Set the window title, clear the screen, overwrite with CR and backspace, a C1 CSI,
#: and a right-to-left override.
HOSTILE = "A\x1b]0;pwned\x07B\x1b[2JC\rD\x08E\x9bF\u202eG"
#: How the views show it.
SHOWN = r"A\x1b]0;pwned\x07B\x1b[2JC\rD\x08E\x9bF\u202eG"
#: What must never reach a terminal raw (rich's own colour codes aside).
RAW_PIECES = ("\x1b]0;pwned", "\x1b[2J", "\x07", "C\rD", "\x08", "\x9b", "\u202e")
#: Any control character but newline and tab: plain (piped) output holds none.
CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]"
)

PIPELINE = f"""
import warnings

import flowy
from flowy import Pipeline, step

HOSTILE = {HOSTILE!r}
warnings.warn(f"careful {{HOSTILE}}")  # shown by every command that loads the file


@step
def make(tag: str = "plain") -> int:
    print("first line\\tafter a tab")
    print(f"out {{HOSTILE}} done")
    flowy.log_params({{"note": HOSTILE}})
    return 1


@step
def boom(make: int) -> int:
    raise ValueError(f"bad {{HOSTILE}} value")


pipeline = Pipeline("hostile", [make, boom])
"""

Flowy = Callable[..., subprocess.CompletedProcess[str]]


def runner(project: Path, env: dict[str, str]) -> Flowy:
    def flowy(*args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [*FLOWY, *args], cwd=project, env=env, capture_output=True, text=True,
            timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == code, f"{args}: {done.returncode}\n{done.stdout}{done.stderr}"
        return done

    return flowy


def assert_plain(text: str) -> None:
    """No control character but newline and tab."""
    found = CONTROL.search(text)
    assert found is None, f"raw {found.group()!r} in {text[max(0, found.start() - 80) :][:160]!r}"


def assert_no_raw_payload(text: str) -> None:
    for piece in RAW_PIECES:
        assert piece not in text, f"raw {piece!r} reached the terminal: {text!r}"


def hostile_run(base: Path, columns: int = 200) -> dict[str, object]:
    """One hostile run in a new project, from a pipeline file whose folder name holds ESC."""
    project = base / "project"
    (project / ".flowy").mkdir(parents=True)
    folder = project / "pipes\x1b[7mdir"
    folder.mkdir()
    (folder / "p.py").write_text(textwrap.dedent(PIPELINE))
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWY_")}
    env.update(FLOWY_HOME=str(base / "home"), FLOWY_LOAD_PLUGINS=FIRST_PARTY, COLUMNS=str(columns))
    env.pop("FORCE_COLOR", None)
    flowy = runner(project, env)
    ran = flowy("run", str(folder / "p.py"), "-p", f"tag={HOSTILE}", code=1)
    run_id = json.loads(flowy("runs", "list", "--json").stdout)[0]["run_id"]
    return {"flowy": flowy, "ran": ran, "run_id": run_id, "project": project, "env": env,
            "folder": folder}  # fmt: skip


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The hostile run the read-only tests share."""
    return hostile_run(tmp_path_factory.mktemp("escaping"))


def test_run_progress_and_summary_in_a_pipe(recorded: dict[str, object]):
    ran = recorded["ran"]
    assert isinstance(ran, subprocess.CompletedProcess)
    assert_plain(ran.stdout + ran.stderr)
    assert "boom: failed" in ran.stdout
    assert f"bad {SHOWN} value" in ran.stdout  # the progress line and the summary
    assert f"Warning: careful {SHOWN}" in ran.stderr


def test_warnings_of_any_command(recorded: dict[str, object]):
    flowy: Flowy = recorded["flowy"]  # type: ignore[assignment]
    done = flowy("cache", "explain", str(Path(str(recorded["folder"])) / "p.py"))
    assert_plain(done.stdout + done.stderr)
    assert f"Warning: careful {SHOWN}" in done.stderr


def test_runs_show_and_list(recorded: dict[str, object]):
    flowy: Flowy = recorded["flowy"]  # type: ignore[assignment]
    run_id = str(recorded["run_id"])
    shown = flowy("runs", "show", run_id).stdout
    assert_plain(shown)
    assert f"tag: {SHOWN}" in shown
    assert f"note={json.dumps(HOSTILE)}" in shown  # a logged parameter, shown as JSON
    assert f"bad {SHOWN} value" in shown
    listed = flowy("runs", "list").stdout
    assert_plain(listed)
    assert run_id[:12] in listed


def test_json_keeps_the_exact_values(recorded: dict[str, object]):
    flowy: Flowy = recorded["flowy"]  # type: ignore[assignment]
    data = json.loads(flowy("runs", "show", str(recorded["run_id"]), "--json").stdout)
    assert data["params"]["tag"] == HOSTILE
    steps = {s["step"]: s for s in data["steps"]}
    assert steps["make"]["params"]["note"] == HOSTILE
    assert HOSTILE in steps["boom"]["error"]


def test_logs_keep_newlines_and_tabs_and_escape_the_rest(recorded: dict[str, object]):
    flowy: Flowy = recorded["flowy"]  # type: ignore[assignment]
    out = flowy("logs", str(recorded["run_id"])).stdout
    assert_plain(out)
    assert "first line\tafter a tab\n" in out
    assert f"out {SHOWN} done\n" in out
    assert json.loads(flowy("logs", str(recorded["run_id"]), "--json").stdout)["make"] == (
        f"first line\tafter a tab\nout {HOSTILE} done\n"
    )


def test_an_error_naming_a_hostile_path(recorded: dict[str, object]):
    flowy: Flowy = recorded["flowy"]  # type: ignore[assignment]
    done = flowy("run", str(Path(str(recorded["folder"])) / "missing.py"), code=1)
    assert_plain(done.stdout + done.stderr)
    assert "pipes\\x1b[7mdir" in done.stderr.replace("\n", "")


# -- a real terminal ------------------------------------------------------------


def test_live_progress_in_a_terminal(
    recorded: dict[str, object], in_terminal: Callable[..., tuple[int, str]]
):
    env = dict(recorded["env"])  # type: ignore[call-overload]
    env.pop("NO_COLOR", None)
    folder = Path(str(recorded["folder"]))
    code, out = in_terminal(
        [*FLOWY, "run", str(folder / "p.py"), "-p", f"tag={HOSTILE}", "--no-cache"],
        Path(str(recorded["project"])), env,
    )  # fmt: skip
    assert code == 1, out
    assert "\x1b[" in out  # rich's colours: this really was a terminal
    assert_no_raw_payload(out)
    assert f"bad {SHOWN} value" in out


def test_runs_show_in_a_terminal(
    recorded: dict[str, object], in_terminal: Callable[..., tuple[int, str]]
):
    env = dict(recorded["env"])  # type: ignore[call-overload]
    env.pop("NO_COLOR", None)
    code, out = in_terminal(
        [*FLOWY, "runs", "show", str(recorded["run_id"])], Path(str(recorded["project"])), env
    )
    assert code == 0, out
    assert "\x1b[" in out
    assert_no_raw_payload(out)


# -- old data ----------------------------------------------------------------------


def test_a_store_edited_to_hold_control_characters(
    recorded: dict[str, object], tmp_path: Path, in_terminal: Callable[..., tuple[int, str]]
):
    """A database written before names were validated (or edited by hand) is shown escaped."""
    recorded = hostile_run(tmp_path, columns=500)  # its own: this test edits the database
    flowy: Flowy = recorded["flowy"]  # type: ignore[assignment]
    project = Path(str(recorded["project"]))
    run_id = str(recorded["run_id"])
    db = sqlite3.connect(project / ".flowy" / "metadata.db")
    with db:
        db.execute("UPDATE runs SET pipeline = ? WHERE run_id = ?", (f"p{HOSTILE}", run_id))
        for table in ("step_runs", "artifacts", "metrics"):
            db.execute(
                f"UPDATE {table} SET step = ? WHERE run_id = ? AND step = 'make'",
                (f"make{HOSTILE}", run_id),
            )
        db.execute("UPDATE artifacts SET name = ? WHERE run_id = ?", (f"out{HOSTILE}", run_id))
        artifact_id = db.execute(
            "SELECT artifact_id FROM artifacts WHERE run_id = ?", (run_id,)
        ).fetchone()[0]
    db.close()
    views = {
        "runs list": flowy("runs", "list").stdout,
        "runs show": flowy("runs", "show", run_id).stdout,
        "logs": flowy("logs", run_id).stdout,
        "artifacts list": flowy("artifacts", "list", "--run", run_id).stdout,
        "artifacts show": flowy("artifacts", "show", artifact_id).stdout,
        "lineage": flowy("artifacts", "lineage", artifact_id).stdout,
    }
    for view, text in views.items():
        assert_plain(text)
        assert SHOWN in text.replace("\n", ""), f"{view} does not show the escaped name:\n{text}"
    env = dict(recorded["env"])  # type: ignore[call-overload]
    env.pop("NO_COLOR", None)
    for args in (["runs", "show", run_id], ["artifacts", "lineage", artifact_id]):
        code, out = in_terminal([*FLOWY, *args], project, env)
        assert code == 0, out
        assert_no_raw_payload(out)


def test_commands_that_do_not_escape_are_caught_by_the_console(tmp_path: Path):
    """`stack describe` and `stack list` print a stack file's description with rich markup
    escaping only: the CLI's console escapes every string it renders, for them too."""
    project = tmp_path / "project"
    stacks = project / ".flowy" / "stacks"
    stacks.mkdir(parents=True)
    (stacks / "odd.toml").write_text(
        f"description = {json.dumps('desc ' + HOSTILE)}\n"  # TOML reads JSON's escapes
        '[executor]\ntype = "local"\n'
        '[metadata_store]\ntype = "sqlite"\nurl = "sqlite:///{project}/.flowy/metadata.db"\n'
        '[artifact_store]\ntype = "local"\npath = "{project}/.flowy/artifacts"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWY_")}
    env.update(FLOWY_HOME=str(tmp_path / "home"), FLOWY_LOAD_PLUGINS=FIRST_PARTY, COLUMNS="300")
    flowy = runner(project, env)
    for args in (("stack", "describe", "odd"), ("stack", "list")):
        out = flowy(*args).stdout
        assert_plain(out)
        assert f"desc {SHOWN}" in out
