"""flowy.run.live_output and execute_attempt(on_output=...): a running step's output, batched.

Real threads and real attempts; nothing waits on a duration except for a
condition, with a generous ceiling.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import attrs
import pytest
from flowy.artifacts.resolution import MaterializerRegistry
from flowy.kernel.plugins import create_plugin_manager
from flowy.kernel.records import ComponentSpec, StepRef, StepTask
from flowy.run.live_output import TRUNCATED, LiveOutput
from flowy.run.worker import WorkerRuntime, execute_attempt

PATIENCE = 60.0


def _until(condition: Any) -> None:
    deadline = time.monotonic() + PATIENCE
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.01)


class Sink:
    """Collects what a LiveOutput sends, from its thread."""

    def __init__(self) -> None:
        self.batches: list[str] = []
        self.threads: set[str] = set()

    def __call__(self, text: str) -> None:
        self.batches.append(text)
        self.threads.add(threading.current_thread().name)

    @property
    def text(self) -> str:
        return "".join(self.batches)


def test_writes_are_handed_on_in_order_from_one_thread_without_a_further_write() -> None:
    sink = Sink()
    live = LiveOutput(sink, interval=0.01)
    live.write("one\n")
    live.write("two\n")
    _until(lambda: sink.text == "one\ntwo\n")  # no third write needed to flush
    live.write("three\n")
    _until(lambda: sink.text == "one\ntwo\nthree\n")
    live.close()
    assert sink.threads == {"flowy-live-output"}


def test_nothing_written_starts_no_thread() -> None:
    before = threading.active_count()
    live = LiveOutput(Sink())
    assert threading.active_count() == before
    live.close()


def test_each_batch_is_capped_and_the_rest_follows() -> None:
    sink = Sink()
    live = LiveOutput(sink, interval=0.01, flush_cap=10)
    live.write("x" * 25)
    _until(lambda: len(sink.text) == 25)
    live.close()
    assert [len(b) for b in sink.batches] == [10, 10, 5]


def test_beyond_the_total_cap_one_marker_and_nothing_more() -> None:
    sink = Sink()
    live = LiveOutput(sink, interval=0.01, total_cap=30)
    live.write("a" * 20)
    live.write("b" * 20)
    live.write("c" * 20)
    _until(lambda: sink.text.endswith(TRUNCATED))
    live.write("d" * 5)
    live.close()
    assert sink.text == "a" * 20 + "b" * 10 + TRUNCATED


def test_a_failing_sink_stops_forwarding_not_the_writer() -> None:
    calls: list[str] = []

    def broken(text: str) -> None:
        calls.append(text)
        raise OSError("the pipe is gone")

    live = LiveOutput(broken, interval=0.01)
    live.write("first")
    _until(lambda: calls)
    live.write("second")  # accepted and dropped: never raises into the step
    live.close()
    assert calls == ["first"]


def test_close_drops_what_is_buffered_and_nothing_arrives_afterwards() -> None:
    sink = Sink()
    live = LiveOutput(sink, interval=3600)  # never due while the test runs
    live.write("held\n")
    live.close()
    live.write("after\n")
    assert sink.batches == []


# -- through execute_attempt --------------------------------------------------------


@pytest.fixture
def runtime(tmp_path: Path) -> WorkerRuntime:
    from flowy_store_sqlite.local_store import LocalArtifactStore

    plugins = create_plugin_manager()
    return WorkerRuntime(
        LocalArtifactStore(str(tmp_path / "artifacts")), MaterializerRegistry(plugins.registry)
    )


def _task() -> StepTask:
    return StepTask(
        "r" * 32,
        "p",
        "talk",
        StepRef("m", "talk"),
        "h",
        {},
        {},
        ["out"],
        ComponentSpec("artifact_store", "local"),
    )


def test_an_attempt_hands_on_a_line_while_it_runs_and_ends_with_its_full_log(
    runtime: WorkerRuntime,
) -> None:
    sink = Sink()

    def talk() -> int:
        print("before the long part", flush=True)
        _until(lambda: "before the long part" in sink.text)  # the step waits to be seen
        print("seen by the run")
        return 1

    result = execute_attempt(_task(), talk, runtime, on_output=sink)
    assert result.status == "completed", result.error
    assert result.logs == "before the long part\nseen by the run\n"
    assert sink.batches[0].startswith("before the long part\n")  # handed on mid-attempt
    assert not [t for t in threading.enumerate() if t.name == "flowy-live-output"]  # joined


def test_native_output_joins_at_the_next_python_write(runtime: WorkerRuntime) -> None:
    sink = Sink()

    def native() -> int:
        sys.stdout.flush()
        os.write(1, b"from descriptor one\n")
        print("python line", flush=True)
        _until(lambda: "python line" in sink.text)
        return 1

    result = execute_attempt(_task(), native, runtime, on_output=sink)
    assert result.status == "completed", result.error
    assert sink.text.index("from descriptor one") < sink.text.index("python line")


def test_without_on_output_an_attempt_starts_no_thread(runtime: WorkerRuntime) -> None:
    def talk() -> int:
        print("nobody listens")
        assert not [t for t in threading.enumerate() if t.name == "flowy-live-output"]
        return 1

    result = execute_attempt(_task(), talk, runtime)
    assert result.status == "completed", result.error


def test_a_forked_timed_attempt_streams_over_its_own_pipe(
    runtime: WorkerRuntime, tmp_path: Path
) -> None:
    from flowy.run.forked import run_attempt_forked

    seen = tmp_path / "seen"
    heard: list[str] = []

    def hear(text: str) -> None:  # in this process; the step waits in the child
        heard.append(text)
        if "from the child" in "".join(heard):
            seen.touch()

    def talk() -> int:
        print("from the child", "é" * 3, flush=True)
        _until(seen.exists)
        print("child done")
        return 1

    task = attrs.evolve(_task(), timeout=120.0)
    result = run_attempt_forked(task, talk, runtime, (Exception,), on_output=hear)
    assert result.status == "completed", result.error
    assert "".join(heard).startswith("from the child ééé\n")
    assert result.logs == "from the child ééé\nchild done\n"


def test_close_with_flush_hands_on_the_rest_in_capped_batches() -> None:
    sink = Sink()
    live = LiveOutput(sink, interval=3600, flush_cap=4)
    live.write("last words")
    live.close(flush=True)
    assert sink.batches == ["last", " wor", "ds"]


def test_a_failure_that_may_be_retried_hands_on_its_last_words(runtime: WorkerRuntime) -> None:
    retried = Sink()

    def flaky() -> int:
        print("about to fail")
        raise ConnectionError("busy")

    result = execute_attempt(_task(), flaky, runtime, (ConnectionError,), on_output=retried)
    assert result.status == "failed" and result.retryable
    assert retried.text == "about to fail\n"  # before the attempt returned, however quick
