"""Facts a run records about where it ran: git state and the environment.

The environment includes every installed distribution (so ``flowy runs env
RUN_ID --requirements`` can write a requirements file that rebuilds it).
Scanning them costs 50-100 ms, too much for every run, so the list is cached
per interpreter environment: the key is ``sys.prefix`` plus the modification
times of the ``site-packages`` folders on ``sys.path`` (installing, upgrading
or removing a distribution adds or removes a ``.dist-info`` folder, which
changes its folder's mtime). A hit costs a few ``stat`` calls and one small file read.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
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


class GitFactsReader:
    """Git facts read in the background: ``git status`` starts when this is built.

    One ``git status --porcelain=v2 --branch`` gives the commit, the branch and
    the dirty flag; ``git diff HEAD`` runs only when the tree is dirty. The run
    engine starts the reader first and asks for :meth:`result` once the stack
    is resolved, so git works while Python imports. :meth:`close` stops a
    reader whose result is never asked for (it is a no-op after ``result``).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._proc: subprocess.Popen[str] | None = None
        try:
            self._proc = subprocess.Popen(
                ["git", "status", "--porcelain=v2", "--branch", "--untracked-files=no"],
                cwd=path,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                stdin=subprocess.DEVNULL,
                text=True,
            )
        except OSError:  # no git, or the folder is gone
            self._proc = None

    def result(self) -> dict[str, Any]:
        """Commit, branch, dirty flag and (when dirty) the diff; {} outside a repository."""
        proc, self._proc = self._proc, None
        if proc is None:
            return {}
        try:
            out, _ = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            return {}
        if proc.returncode != 0:
            return {}
        return _status_facts(out, self.path)

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
        if proc is not None:
            proc.communicate()


def _status_facts(status: str, path: Path) -> dict[str, Any]:
    commit: str | None = None
    branch: str | None = None
    dirty = False
    for line in status.splitlines():
        if line.startswith("# branch.oid "):
            oid = line[len("# branch.oid ") :].strip()
            commit = None if oid == "(initial)" else oid
        elif line.startswith("# branch.head "):
            head = line[len("# branch.head ") :].strip()
            branch = None if head == "(detached)" else head
        elif line and not line.startswith("#"):
            dirty = True
    facts: dict[str, Any] = {"commit": commit, "branch": branch, "dirty": dirty}
    if dirty:
        diff = _git(path, "diff", "HEAD") or ""
        facts["diff"] = diff[:MAX_DIFF]
        facts["diff_truncated"] = len(diff) > MAX_DIFF
    return facts


def git_facts(path: Path) -> dict[str, Any]:
    """Commit, branch (None when detached), dirty flag and (when dirty) the diff.

    {} outside a repository or without git.
    """
    return GitFactsReader(path).result()


def environment_facts() -> dict[str, Any]:
    """Python, platform, key package versions, and every installed distribution.

    ``installed`` maps each distribution to its version; ``sources`` holds the
    ones not installed from an index (editable or from a URL), as pip's
    ``direct_url.json`` records them.
    """
    installed, sources = installed_distributions()
    versions = {name: installed[name] for name in KEY_PACKAGES if name in installed}
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "executable": sys.executable,
        "prefix": sys.prefix,
        "packages": versions,
        "installed": installed,
        "sources": sources,
    }


_memo: dict[str, tuple[dict[str, str], dict[str, str]]] = {}


def _environment_key() -> str:
    # Only package folders: the current directory and source folders change all the
    # time (a step writing a file), and installing into them is not how packages arrive.
    parts = [sys.prefix, sys.version]
    for entry in sys.path:
        if not entry.rstrip("/\\").endswith(("site-packages", "dist-packages")):
            continue
        try:
            parts.append(f"{entry}:{os.stat(entry or '.').st_mtime_ns}")
        except OSError:
            parts.append(f"{entry}:-")
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


def _cache_file(key: str) -> Path:
    from flowy.kernel.config import user_home

    return user_home() / "cache" / "environments" / f"{key}.json"


def installed_distributions() -> tuple[dict[str, str], dict[str, str]]:
    """``({name: version}, {name: source})`` of this interpreter, cached (see module doc)."""
    key = _environment_key()
    if key in _memo:
        return _memo[key]
    path = _cache_file(key)
    try:
        data = json.loads(path.read_text())
        found: tuple[dict[str, str], dict[str, str]] = (data["installed"], data["sources"])
    except (OSError, ValueError, KeyError, TypeError):
        found = _scan_distributions()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"installed": found[0], "sources": found[1]}))
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only home only costs the scan next time
    _memo[key] = found
    return found


def _scan_distributions() -> tuple[dict[str, str], dict[str, str]]:
    from importlib import metadata  # only on a cache miss: importing it costs ~10 ms

    installed: dict[str, str] = {}
    sources: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if not name or name in installed:  # the first on sys.path is the one imported
            continue
        installed[name] = dist.version
        source = _direct_source(dist.read_text("direct_url.json"))
        if source:
            sources[name] = source
    return dict(sorted(installed.items(), key=lambda kv: kv[0].lower())), sources


def _direct_source(text: str | None) -> str | None:
    """A requirement source from PEP 610's direct_url.json (None for index installs)."""
    if not text:
        return None
    try:
        info = json.loads(text)
    except ValueError:
        return None
    url = info.get("url")
    if not isinstance(url, str):
        return None
    if info.get("dir_info", {}).get("editable"):
        return f"-e {url}"
    vcs = info.get("vcs_info")
    if isinstance(vcs, dict) and vcs.get("vcs"):
        commit = vcs.get("commit_id")
        return f"{vcs['vcs']}+{url}" + (f"@{commit}" if commit else "")
    return url


def requirements_text(environment: dict[str, Any], header: str = "") -> str:
    """A pip requirements file that reinstalls the recorded distributions.

    Index installs are pinned (``name==version``); editable and URL installs
    are written the way ``pip freeze`` writes them.
    """
    installed: dict[str, str] = environment.get("installed") or environment.get("packages") or {}
    sources: dict[str, str] = environment.get("sources") or {}
    lines = [f"# {line}" for line in header.splitlines()] if header else []
    if environment.get("python"):
        lines.append(
            f"# Python {environment['python']} ({environment.get('implementation', '?')}) "
            f"on {environment.get('platform', '?')}"
        )
    for name in sorted(installed, key=str.lower):
        source = sources.get(name)
        if source is None:
            lines.append(f"{name}=={installed[name]}")
        elif source.startswith("-e "):
            lines.append(source)
        else:
            lines.append(f"{name} @ {source}")
    return "\n".join(lines) + "\n"
