"""Plugin-ecosystem benchmark (issue 3): `flowy` with 30 installed plugins.

Builds a benchmark venv holding the local flowy distributions (core, local
executor, SQLite store, CLI) and 30 plugins generated with ``flowy plugin
new`` (five of each kind), all installed in one pip call, then times whole
processes, median of ``--repeat`` runs after one untimed warm-up:

* ``flowy --help`` (target 150 ms): lists plugin commands from its cache;
* ``flowy stack list`` (target 250 ms): builds a real plugin manager, imports
  all 30 plugin modules, calls every registration hook, reads the stacks;
* ``flowy stack list`` again in a project whose config file names the
  active stack (so pydantic validates it: the cost of user configuration).

Run: ``python benchmarks/plugins.py`` (``--rebuild`` to recreate the venv,
``--json`` for machine-readable figures). The venv is kept between runs in
the temporary folder (``flowy-bench-plugins-venv``), outside the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "flowy-cli" / "src"))  # the generator, without installing it

from flowy_cli.plugin_new import KINDS, write_plugin  # noqa: E402

LOCAL_DISTS = ["flowy-core", "flowy-executor-local", "flowy-store-sqlite", "flowy-cli"]
N_PLUGINS = 30
TARGETS_MS = {"flowy --help": 150, "flowy stack list": 250}


def build_venv(venv: Path, rebuild: bool) -> None:
    """A venv with the local flowy distributions and N_PLUGINS generated plugins."""
    if venv.exists() and not rebuild:
        return
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    plugins = venv / "generated"
    kinds = sorted(KINDS)
    targets = []
    for i in range(N_PLUGINS):
        folder = plugins / f"flowy-bench{i:02d}"
        write_plugin(f"flowy-bench{i:02d}", kinds[i % len(kinds)], folder)
        targets.append(str(folder))
    local = [str(ROOT / d) for d in LOCAL_DISTS]
    pip = [
        str(venv / "bin" / "python"),
        "-m",
        "pip",
        "install",
        "-q",
        "--disable-pip-version-check",
    ]
    subprocess.run([*pip, *local, *targets], check=True)


def timed_ms(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    return (time.perf_counter() - start) * 1000


def measure(cmd: list[str], cwd: Path, env: dict[str, str], repeat: int) -> dict[str, float]:
    timed_ms(cmd, cwd, env)  # warm-up: page cache, the plugin-command cache of --help
    runs = sorted(timed_ms(cmd, cwd, env) for _ in range(repeat))
    return {"median_ms": statistics.median(runs), "min_ms": runs[0], "max_ms": runs[-1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--json", action="store_true")
    default_venv = Path(tempfile.gettempdir()) / "flowy-bench-plugins-venv"
    parser.add_argument("--venv", type=Path, default=default_venv)
    args = parser.parse_args()

    build_venv(args.venv, args.rebuild)
    flowy = str(args.venv / "bin" / "flowy")
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "project"
        (project / ".flowy").mkdir(parents=True)
        configured = Path(tmp) / "configured"
        (configured / ".flowy").mkdir(parents=True)
        (configured / ".flowy" / "config.toml").write_text('active_stack = "local"\n')
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWY_", "PYTHON"))}
        env.update(FLOWY_HOME=str(Path(tmp) / "home"), COLUMNS="120")
        listed = subprocess.run(
            [flowy, "plugins", "--json"], cwd=project, env=env, capture_output=True, check=True
        )
        loaded = [p for p in json.loads(listed.stdout)["plugins"] if p["status"] == "loaded"]
        rows = {
            "flowy --help": measure([flowy, "--help"], project, env, args.repeat),
            "flowy stack list": measure([flowy, "stack", "list"], project, env, args.repeat),
            "flowy stack list (with config.toml)": measure(
                [flowy, "stack", "list"], configured, env, args.repeat
            ),
        }
    result = {"plugins_loaded": len(loaded), "repeat": args.repeat, "rows": rows}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{len(loaded)} plugins loaded (flowy's own included); median of {args.repeat} runs")
    for name, row in rows.items():
        target = TARGETS_MS.get(name.split(" (")[0])
        verdict = (
            ""
            if target is None
            else f"  target {target} ms: " + ("ok" if row["median_ms"] <= target else "OVER")
        )
        print(
            f"{name:40s} {row['median_ms']:7.1f} ms  "
            f"(min {row['min_ms']:.1f}, max {row['max_ms']:.1f}){verdict}"
        )


if __name__ == "__main__":
    main()
