"""Each step run records what it cost: CPU seconds, peak RSS, bytes read and written.

Measured in the process that ran the step (flowy.run.resource_usage) on the real
executors: the orchestrating process (sequential), pool worker processes (parallel),
threads of one Dask worker process (then per thread), with retries added up; shown by
``flowy runs show`` and in its ``--json``. No GPU here: the NVML figures are None.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from flowy.kernel.records import ResourceUsage
from flowy.run import resource_usage
from flowy.run.engine import run_pipeline
from flowy.stacks.resolution import resolve_stack
from flowy.testing._executor_support import load_path_module

MB = 1_000_000

PIPELINE = """
import os
from flowy import Pipeline, step

@step(cache=False)
def allocate() -> int:
    block = bytearray(120 * 1024 * 1024)  # ~126 MB, every page touched
    for i in range(0, len(block), 4096):
        block[i] = 1
    return len(block)

@step(cache=False)
def write_file(allocate: int) -> int:
    path = os.path.join(os.environ["OUT_DIR"], "written.bin")
    with open(path, "wb") as f:
        f.write(b"x" * 6_000_000)
    return os.path.getsize(path)

@step(cache=False)
def burn() -> int:
    total = 0
    for i in range(3_000_000):
        total += i * i
    return total

pipeline = Pipeline("resources", [allocate, write_file, burn])
"""

FLAKY = """
import os
from flowy import Pipeline, step

@step(cache=False, retries=2, retry_backoff=0.01)
def flaky() -> int:
    out = os.environ["OUT_DIR"]
    with open(os.path.join(out, "attempt.bin"), "ab") as f:
        f.write(b"y" * 2_000_000)
    if os.path.getsize(os.path.join(out, "attempt.bin")) < 4_000_000:
        raise RuntimeError("first attempt fails")
    return 1

pipeline = Pipeline("flaky_resources", [flaky])
"""


def _steps(plugins: Any, project: Path, run_id: str) -> dict[str, Any]:
    stack = resolve_stack(None, plugins, project)
    try:
        return {s.step: s for s in stack.metadata_store.get_step_runs(run_id)}
    finally:
        stack.close()


@pytest.mark.parametrize("workers", [1, 2], ids=["sequential", "parallel-pool"])
def test_local_executor_records_cpu_peak_rss_and_written_bytes(
    project: Path, plugins: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    monkeypatch.setenv("OUT_DIR", str(tmp_path))
    module = load_path_module(tmp_path, f"resources_{workers}", PIPELINE)
    result = run_pipeline(
        module.pipeline, plugins=plugins, project=project, executor_options={"max_workers": workers}
    )
    assert result.status == "completed"
    steps = _steps(plugins, project, result.run_id)
    assert steps["allocate"].peak_rss_bytes > 120 * 1024 * 1024
    # The peak is reset when each step starts: the writer does not inherit the allocation.
    assert steps["write_file"].peak_rss_bytes < steps["allocate"].peak_rss_bytes
    assert steps["write_file"].written_bytes >= 6 * MB
    assert steps["burn"].written_bytes < 6 * MB
    for record in steps.values():
        assert record.cpu_seconds > 0
        assert record.read_bytes is not None
        assert record.gpu_memory_bytes is None  # no NVML here
        assert record.gpu_utilization is None


def test_retried_step_adds_up_its_attempts(
    project: Path, plugins: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OUT_DIR", str(tmp_path))
    module = load_path_module(tmp_path, "flaky_resources", FLAKY)
    result = run_pipeline(module.pipeline, plugins=plugins, project=project)
    assert result.status == "completed"
    flaky = _steps(plugins, project, result.run_id)["flaky"]
    assert flaky.attempts == 2
    assert flaky.written_bytes >= 4 * MB  # 2 MB in each attempt


def test_cached_and_failed_steps(project: Path, plugins: Any, tmp_path: Path) -> None:
    module = load_path_module(
        tmp_path,
        "cached_resources",
        """
from flowy import Pipeline, step

@step
def source() -> int:
    return 1

@step
def broken(source: int) -> int:
    raise ValueError("no")

pipeline = Pipeline("cached_resources", [source, broken])
""",
    )
    run_pipeline(module.pipeline, plugins=plugins, project=project)
    second = run_pipeline(module.pipeline, plugins=plugins, project=project)
    steps = _steps(plugins, project, second.run_id)
    assert steps["source"].status == "cached"
    assert steps["source"].cpu_seconds is None  # nothing ran
    assert steps["broken"].status == "failed"
    assert steps["broken"].cpu_seconds is not None  # a failed attempt still cost something


THREADS = """
import os, time
from pathlib import Path
from flowy import Pipeline, step

def _wait_for(path):
    deadline = time.monotonic() + 120
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(path)
        time.sleep(0.01)

@step(cache=False)
def burner() -> int:
    out = Path(os.environ["OUT_DIR"])
    (out / "burner-started").touch()
    _wait_for(out / "idler-started")
    total = 0
    for i in range(4_000_000):
        total += i * i
    (out / "burner-done").touch()
    return total

@step(cache=False)
def idler() -> int:
    out = Path(os.environ["OUT_DIR"])
    (out / "idler-started").touch()
    _wait_for(out / "burner-done")
    return 0

pipeline = Pipeline("threads", [burner, idler])
"""


@pytest.mark.slow
def test_steps_sharing_a_process_are_measured_per_thread(
    project: Path, all_plugins: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two steps at once on two threads of one Dask worker: the idle one is not charged
    with the busy one's CPU (process-wide counters would charge it)."""
    monkeypatch.setenv("OUT_DIR", str(tmp_path))
    module = load_path_module(tmp_path, "threads_resources", THREADS)
    options = {"n_workers": 1, "threads_per_worker": 2, "processes": False}
    result = run_pipeline(
        module.pipeline, stack="dask", plugins=all_plugins, project=project,
        executor_options=options,
    )  # fmt: skip
    assert result.status == "completed"
    steps = _steps(all_plugins, project, result.run_id)
    assert steps["burner"].cpu_seconds > 0
    assert steps["idler"].cpu_seconds < steps["burner"].cpu_seconds / 2
    assert steps["idler"].peak_rss_bytes is not None


def test_runs_show_prints_and_exports_the_figures(
    tmp_path: Path, flowy_env: Any, flowy_runner: Any
) -> None:
    project = tmp_path / "project"
    (project / ".flowy").mkdir(parents=True)
    (project / "p.py").write_text(PIPELINE)
    env = flowy_env(tmp_path / "home", OUT_DIR=str(tmp_path), FLOWY_PROJECT=str(project))
    flowy = flowy_runner(project, env)
    flowy("run", "p.py")
    listed = json.loads(flowy("runs", "list", "--json").stdout)
    run_id = listed[0]["run_id"]
    shown = json.loads(flowy("runs", "show", run_id, "--json").stdout)
    steps = {s["step"]: s for s in shown["steps"]}
    assert steps["allocate"]["peak_rss_bytes"] > 120 * 1024 * 1024
    assert steps["write_file"]["written_bytes"] >= 6 * MB
    assert set(ResourceUsage().columns()) <= set(steps["burn"])
    text = flowy("runs", "show", run_id, COLUMNS="250").stdout
    assert "used:" in text and "peak" in text and "wrote 6.0 MB" in text


def test_combine_adds_times_and_bytes_and_keeps_the_larger_peak() -> None:
    first = ResourceUsage(1.0, 100, 10, 20, None, None)
    second = ResourceUsage(2.0, 50, 1, 2, 7, 30.0)
    assert resource_usage.combine(first, second) == ResourceUsage(3.0, 100, 11, 22, 7, 30.0)
    assert resource_usage.combine(None, second) is second
    assert resource_usage.combine(first, None) is first


def test_a_meter_alone_in_its_process_counts_the_process() -> None:
    meter = resource_usage.Meter()
    block = bytearray(64 * 1024 * 1024)
    for i in range(0, len(block), 4096):
        block[i] = 1
    usage = meter.stop()
    assert meter.stop() is usage  # measured once
    assert usage.peak_rss_bytes is not None and usage.peak_rss_bytes > 64 * 1024 * 1024
    assert usage.cpu_seconds is not None and usage.cpu_seconds > 0
    del block


def test_without_nvml_the_gpu_figures_are_none() -> None:
    assert resource_usage.gpu_usage(0) == (None, None)


def test_runs_show_latest_without_runs_says_how_to_make_one(
    tmp_path: Path, flowy_env: Any, flowy_runner: Any
) -> None:
    project = tmp_path / "project"
    (project / ".flowy").mkdir(parents=True)
    flowy = flowy_runner(project, flowy_env(tmp_path / "home", FLOWY_PROJECT=str(project)))
    refused = flowy("runs", "show", "latest", code=1)
    assert "No run is recorded yet" in refused.stderr and "flowy run" in refused.stderr


def test_the_nvml_path_with_a_stand_in_for_the_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    """No GPU here: a stand-in ``pynvml`` with NVML's function names and record fields
    (nvidia-ml-py's) checks that this process's entries are picked and averaged."""
    import os
    import sys
    import types

    class NVMLError(Exception):
        pass

    me = os.getpid()
    proc = types.SimpleNamespace
    fake = types.ModuleType("pynvml")
    fake.NVMLError = NVMLError  # type: ignore[attr-defined]
    fake.nvmlInit = lambda: None  # type: ignore[attr-defined]
    fake.nvmlDeviceGetCount = lambda: 2  # type: ignore[attr-defined]
    fake.nvmlDeviceGetHandleByIndex = lambda i: i  # type: ignore[attr-defined]
    fake.nvmlDeviceGetComputeRunningProcesses = lambda d: [  # type: ignore[attr-defined]
        proc(pid=me, usedGpuMemory=(d + 1) * 2**30),
        proc(pid=me + 1, usedGpuMemory=7),
    ]
    samples = [proc(pid=me, smUtil=40), proc(pid=me, smUtil=60), proc(pid=me + 1, smUtil=99)]

    def utilization(device: int, since: int) -> list[Any]:
        if device == 1:
            raise NVMLError("not supported")
        return samples

    fake.nvmlDeviceGetProcessUtilization = utilization  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    resource_usage._nvml.cache_clear()
    try:
        assert resource_usage.gpu_usage(0) == (3 * 2**30, 50.0)
        monkeypatch.setenv("FLOWY_NVML", "0")
        resource_usage._nvml.cache_clear()
        assert resource_usage.gpu_usage(0) == (None, None)
    finally:
        resource_usage._nvml.cache_clear()


def _touch(mb: int) -> bytearray:
    block = bytearray(mb * 1024 * 1024)
    for i in range(0, len(block), 4096):
        block[i] = 1
    return block


def test_the_orchestrating_process_keeps_its_lifetime_peak(tmp_path: Path, flowy_env: Any) -> None:
    """Sequential steps run in the `flowy run` process: its high-water mark is never reset,
    so whoever measures that process (wait4's ru_maxrss, as the streaming-memory test
    does) still sees the first step's peak; each step still gets its own figure."""
    import os
    import subprocess

    from tests.conftest import FLOWY

    project = tmp_path / "project"
    (project / ".flowy").mkdir(parents=True)
    (project / "p.py").write_text(
        """
from flowy import Pipeline, step

@step(cache=False)
def big() -> int:
    block = bytearray(200 * 1024 * 1024)
    for i in range(0, len(block), 4096):
        block[i] = 1
    return len(block)

@step(cache=False)
def small(big: int) -> int:
    return big // 2

pipeline = Pipeline("peaks", [big, small])
"""
    )
    env = flowy_env(tmp_path / "home", FLOWY_PROJECT=str(project))
    proc = subprocess.Popen([*FLOWY, "run", "p.py"], cwd=project, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    _, status, usage = os.wait4(proc.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert usage.ru_maxrss * 1024 > 200 * 1024 * 1024  # the big step's peak is still there
    import sqlite3

    db = sqlite3.connect(project / ".flowy" / "metadata.db")
    peaks = dict(db.execute("SELECT step, peak_rss_bytes FROM step_runs").fetchall())
    db.close()
    assert peaks["big"] > 200 * 1024 * 1024
    assert peaks["small"] < peaks["big"] - 100 * 1024 * 1024


def test_a_watched_attempt_under_an_earlier_peak_is_sampled() -> None:
    from flowy.run import peak_memory

    earlier = _touch(160)  # the process's high-water mark is now above what follows
    del earlier
    watch = peak_memory.PeakWatch(reset=False)
    block = _touch(64)
    deadline = time.monotonic() + 60
    while watch._most < peak_memory.resident() and time.monotonic() < deadline:
        time.sleep(0.01)  # until the sampler has seen the block
    held = peak_memory.resident()
    del block
    peak = watch.stop()
    assert peak is not None and peak >= held
    assert peak < peak_memory.high_water()  # not the earlier, larger peak


def test_steps_with_a_timeout_are_measured_in_their_forked_child(
    project: Path, plugins: Any, tmp_path: Path
) -> None:
    """A step with a timeout runs in a child forked for the attempt: measured there."""
    module = load_path_module(
        tmp_path,
        "forked_resources",
        """
from flowy import Pipeline, step

@step(cache=False, timeout=120)
def allocate() -> int:
    block = bytearray(120 * 1024 * 1024)
    for i in range(0, len(block), 4096):
        block[i] = 1
    return len(block)

@step(cache=False, timeout=120)
def small(allocate: int) -> int:
    total = 0
    for i in range(500_000):
        total += i
    return total

pipeline = Pipeline("forked_resources", [allocate, small])
""",
    )
    result = run_pipeline(
        module.pipeline, plugins=plugins, project=project, executor_options={"max_workers": 1}
    )
    assert result.status == "completed"
    steps = _steps(plugins, project, result.run_id)
    assert steps["allocate"].peak_rss_bytes > 120 * 1024 * 1024
    assert steps["small"].peak_rss_bytes < steps["allocate"].peak_rss_bytes
    assert steps["small"].cpu_seconds > 0
