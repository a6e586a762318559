"""The cached ``flowy`` entry-point group, with real dist-info folders and real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

LIST = """
import json, sys
from flowy.kernel.plugins import entry_points
eps = [[ep.name, ep.value, ep.distribution, ep.version, ep.problem] for ep in entry_points()]
print(json.dumps({"eps": eps, "metadata_imported": "importlib.metadata" in sys.modules}))
"""


@pytest.fixture
def site(tmp_path: Path):
    root = tmp_path / "site"
    root.mkdir()
    return root


def install(site: Path, dist: str, target: str, requires: str = "flowy-core>=0.1") -> Path:
    info = site / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\nRequires-Dist: {requires}\n"
    )
    (info / "entry_points.txt").write_text(f"[flowy]\n{dist} = {target}\n")
    return info


def listed(site: Path, home: Path, cwd: Path | None = None) -> dict[str, object]:
    env = {**os.environ, "FLOWY_HOME": str(home)}
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, "-c", LIST], env=env, cwd=cwd, capture_output=True, text=True, check=True
    )
    data = json.loads(done.stdout)
    mine = {ep[0]: ep[1:] for ep in data["eps"] if ep[0].startswith("flowy-cachetest")}
    return {"eps": mine, "metadata_imported": data["metadata_imported"]}


def test_the_group_is_read_once_then_served_from_the_cache(site, tmp_path):
    install(site, "flowy-cachetest-a", "json")
    first = listed(site, tmp_path / "home")
    assert first == {
        "eps": {"flowy-cachetest-a": ["json", "flowy-cachetest-a", "1.0", None]},
        "metadata_imported": True,
    }
    assert (tmp_path / "home" / "cache" / "entry-points.json").exists()
    again = listed(site, tmp_path / "home")
    assert again == {"eps": first["eps"], "metadata_imported": False}  # nothing was parsed


def test_installing_editing_and_removing_a_distribution_is_seen(site, tmp_path):
    home = tmp_path / "home"
    info = install(site, "flowy-cachetest-a", "json")
    assert set(listed(site, home)["eps"]) == {"flowy-cachetest-a"}
    install(site, "flowy-cachetest-b", "json.decoder", requires="flowy-core>=99")
    seen = listed(site, home)["eps"]
    assert set(seen) == {"flowy-cachetest-a", "flowy-cachetest-b"}
    assert "supports flowy-core >=99" in seen["flowy-cachetest-b"][3]  # verdict cached too
    (info / "entry_points.txt").write_text("[flowy]\nflowy-cachetest-a = json.encoder\n")
    assert listed(site, home)["eps"]["flowy-cachetest-a"][0] == "json.encoder"
    for path in info.iterdir():
        path.unlink()
    info.rmdir()
    assert set(listed(site, home)["eps"]) == {"flowy-cachetest-b"}


def test_a_corrupt_or_unwritable_cache_only_costs_a_scan(site, tmp_path):
    install(site, "flowy-cachetest-a", "json")
    home = tmp_path / "home"
    (home / "cache").mkdir(parents=True)
    (home / "cache" / "entry-points.json").write_text("{not json")
    assert set(listed(site, home)["eps"]) == {"flowy-cachetest-a"}
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the home folder should be")
    assert set(listed(site, blocked)["eps"]) == {"flowy-cachetest-a"}


def test_each_sys_path_layout_keeps_its_own_entry(site, tmp_path):
    """`python -c` puts the current folder first on sys.path: two folders, two entries."""
    install(site, "flowy-cachetest-a", "json")
    home = tmp_path / "home"
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    assert listed(site, home, one)["metadata_imported"] is True
    assert listed(site, home, two)["metadata_imported"] is True
    assert listed(site, home, one) == listed(site, home, two)
    assert listed(site, home, one)["metadata_imported"] is False  # both still cached
