"""Git and environment facts that every run records (real git in a temp repository)."""

from __future__ import annotations

import subprocess
import sys

from flowy.run.facts import GitFactsReader, environment_facts, git_facts


def git(cwd, *args):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def test_git_facts_commit_branch_dirty_and_diff(tmp_path):
    assert git_facts(tmp_path) == {}  # not a repository
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "config", "user.email", "t@example.com")
    git(tmp_path, "config", "user.name", "t")
    (tmp_path / "pipeline.py").write_text("x = 1\n")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "first")
    clean = git_facts(tmp_path)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert clean == {"commit": head, "branch": "main", "dirty": False}
    (tmp_path / "pipeline.py").write_text("x = 2\n")
    dirty = git_facts(tmp_path)
    assert dirty["dirty"] is True and "+x = 2" in dirty["diff"]
    assert dirty["diff_truncated"] is False


def test_git_facts_before_the_first_commit_and_on_a_detached_head(tmp_path):
    git(tmp_path, "init", "-q", "-b", "main")
    assert git_facts(tmp_path) == {"commit": None, "branch": "main", "dirty": False}
    git(tmp_path, "config", "user.email", "t@example.com")
    git(tmp_path, "config", "user.name", "t")
    (tmp_path / "a.txt").write_text("a\n")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "first")
    git(tmp_path, "checkout", "-q", "--detach")
    facts = git_facts(tmp_path)
    assert facts["branch"] is None and facts["commit"] and facts["dirty"] is False


def test_a_git_reader_closed_unread_leaves_no_process(tmp_path):
    git(tmp_path, "init", "-q", "-b", "main")
    reader = GitFactsReader(tmp_path)
    proc = reader._proc
    assert proc is not None
    reader.close()
    assert proc.returncode is not None  # waited for: no zombie, no ResourceWarning
    assert reader.result() == {}  # nothing left to read
    reader.close()  # twice is fine


def test_environment_facts_name_python_and_installed_flowy():
    facts = environment_facts()
    assert facts["python"] == sys.version.split()[0]
    assert facts["packages"]["flowy-core"] == "0.1.0"
    assert facts["platform"]
