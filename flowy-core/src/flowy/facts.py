"""Facts a run records about where it ran: git state and the environment."""

from __future__ import annotations

import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

KEY_PACKAGES = (
    "flowy-core",
    "flowy-cli",
    "flowy-executor-local",
    "flowy-store-sqlite",
    "flowy-materializers",
    "numpy",
    "pandas",
    "scikit-learn",
    "torch",
    "tensorflow-cpu",
)
MAX_DIFF = 1_000_000


def _git(cwd: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def git_facts(path: Path) -> dict[str, Any]:
    """Commit, branch, dirty flag and (when dirty) the diff; {} outside a repository."""
    status = _git(path, "status", "--porcelain=v1", "--branch", "--untracked-files=no")
    if status is None:
        return {}
    lines = status.splitlines()
    branch = lines[0][3:].split("...")[0] if lines and lines[0].startswith("## ") else None
    dirty = any(line and not line.startswith("##") for line in lines)
    commit = (_git(path, "rev-parse", "HEAD") or "").strip() or None
    facts: dict[str, Any] = {"commit": commit, "branch": branch, "dirty": dirty}
    if dirty:
        diff = _git(path, "diff", "HEAD") or ""
        facts["diff"] = diff[:MAX_DIFF]
        facts["diff_truncated"] = len(diff) > MAX_DIFF
    return facts


def environment_facts() -> dict[str, Any]:
    """Python, platform and the versions of key packages that are installed."""
    versions: dict[str, str] = {}
    for name in KEY_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "executable": sys.executable,
        "packages": versions,
    }
