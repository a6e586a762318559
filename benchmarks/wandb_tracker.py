"""W&B tracker benchmark (issue 17): what mirroring a run into W&B (offline) costs.

In one process, alternating A B A B (median of ``--repeat`` after one untimed
warm-up of each), with W&B offline in a temporary folder:

* ``run, no tracker`` / ``run, wandb tracker``: ``run_pipeline`` of a
  one-step pipeline logging ``--values`` metric values (default 10,000) on a
  stack without a tracker and on the same stack with ``tracker = wandb``;
  the difference is what the tracker costs that run;
* the same for a step that logs nothing: the fixed cost per run (wandb.init,
  the run's config and summary, finish);
* ``flowy run`` (the whole process) of the step that logs nothing, without
  and with the tracker: what a user waits, wandb's import and the start of
  W&B's service process included (later runs in one process reuse it);
* the raw anchor: wandb itself, ``wandb.init`` (offline) + one ``run.log``
  per value + ``finish``, for the same values, no Flowy.

The tracker's cost should be close to the raw anchor: Flowy adds little on
top of what W&B itself costs. Run: ``python benchmarks/wandb_tracker.py
[--values 10000] [--repeat 3]`` (needs flowy-wandb installed). Not named
``wandb.py``: the script's folder comes first on ``sys.path``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

LOGGER = """
import flowy
from flowy import Pipeline, step


@step(cache=False)
def train(n: int = 0) -> int:
    for i in range(n):
        flowy.log_metric("loss", 1.0 / (i + 1), step=i)
    return n


pipeline = Pipeline("logger", [train])
"""

STACK = """
[executor]
type = "local"
max_workers = 1
[metadata_store]
type = "sqlite"
url = "sqlite:///{{project}}/.flowy/metadata.db"
[artifact_store]
type = "local"
path = "{{project}}/.flowy/artifacts"
{tracker}
"""

TRACKER = """
[tracker]
type = "wandb"
mode = "offline"
dir = "{project}/wandb-runs"
"""


def alternate(repeat: int, a: Callable[[], float], b: Callable[[], float]) -> tuple[float, float]:
    """Medians of ``a`` and ``b``, run A B A B after one untimed warm-up of each."""
    a()
    b()
    times_a, times_b = [], []
    for _ in range(repeat):
        times_a.append(a())
        times_b.append(b())
    return statistics.median(times_a), statistics.median(times_b)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="flowy-bench-wandb-"))
    project = work / "project"
    (project / ".flowy" / "stacks").mkdir(parents=True)
    (project / ".flowy" / "stacks" / "plain.toml").write_text(STACK.format(tracker=""))
    (project / ".flowy" / "stacks" / "tracked.toml").write_text(STACK.format(tracker=TRACKER))
    (project / "logger.py").write_text(LOGGER)
    os.environ.update(
        FLOWY_HOME=str(work / "home"),
        FLOWY_PROJECT=str(project),
        WANDB_MODE="offline",
        WANDB_SILENT="true",
        WANDB_ERROR_REPORTING="false",
        WANDB_DIR=str(work / "raw-runs"),
        WANDB_CONFIG_DIR=str(work / "wandb-config"),
        WANDB_CACHE_DIR=str(work / "wandb-cache"),
        WANDB_DATA_DIR=str(work / "wandb-data"),
    )
    os.chdir(project)

    import wandb
    from flowy.run.engine import run_pipeline
    from flowy.run.loader import load_pipeline

    pipeline = load_pipeline(str(project / "logger.py"))

    def flowy_run(stack: str, n: int) -> Callable[[], float]:
        def go() -> float:
            start = time.perf_counter()
            result = run_pipeline(pipeline, stack, {"n": n})
            assert result.ok, result.status
            return time.perf_counter() - start

        return go

    def raw(n: int) -> Callable[[], float]:
        def go() -> float:
            start = time.perf_counter()
            run = wandb.init(
                project="raw",
                reinit="create_new",
                settings=wandb.Settings(
                    silent=True, console="off", x_disable_stats=True, x_save_requirements=False
                ),
            )
            for i in range(n):
                run.log({"loss": 1.0 / (i + 1)})
            run.finish()
            return time.perf_counter() - start

        return go

    def cli(stack: str) -> Callable[[], float]:
        flowy = str(Path(sys.executable).with_name("flowy"))
        env = dict(
            os.environ, FLOWY_LOAD_PLUGINS="flowy-executor-local,flowy-store-sqlite,flowy-wandb"
        )

        def go() -> float:
            start = time.perf_counter()
            subprocess.run(
                [flowy, "run", "logger.py", "--stack", stack], cwd=project, env=env,
                check=True, capture_output=True,
            )  # fmt: skip
            return time.perf_counter() - start

        return go

    n = args.values
    plain, tracked = alternate(args.repeat, flowy_run("plain", n), flowy_run("tracked", n))
    plain0, tracked0 = alternate(args.repeat, flowy_run("plain", 0), flowy_run("tracked", 0))
    raw_n, raw_0 = alternate(args.repeat, raw(n), raw(0))
    cli_plain, cli_tracked = alternate(args.repeat, cli("plain"), cli("tracked"))

    rows = [
        (f"run, {n:,} values, no tracker", plain),
        (f"run, {n:,} values, wandb tracker", tracked),
        ("  the tracker's cost", tracked - plain),
        ("run, no values, no tracker", plain0),
        ("run, no values, wandb tracker", tracked0),
        ("  the tracker's fixed cost per run", tracked0 - plain0),
        ("flowy run (process), no tracker", cli_plain),
        ("flowy run (process), wandb tracker", cli_tracked),
        ("  wandb import + service start + run", cli_tracked - cli_plain),
        (f"raw wandb: init + {n:,} log + finish", raw_n),
        ("raw wandb: init + finish", raw_0),
    ]
    width = max(len(label) for label, _ in rows)
    for label, seconds in rows:
        print(f"{label:<{width}}  {seconds * 1000:9.1f} ms")
    per_value = ((tracked - plain) - (tracked0 - plain0)) / n * 1e6 if n else 0.0
    raw_per_value = (raw_n - raw_0) / n * 1e6 if n else 0.0
    print(
        f"{'per value: tracker / raw wandb':<{width}}  {per_value:6.1f} us / {raw_per_value:.1f} us"
    )
    print(f"{'tracker cost / raw wandb':<{width}}  {(tracked - plain) / raw_n:9.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
