"""Live step progress for ``flowy run``, as an ordinary plugin on the lifecycle hooks.

The engine knows nothing about terminals: the CLI registers a
:class:`ProgressReporter` on the run's plugin manager and hears about each
step the way any tracker would. On a terminal a spinner names the steps that
are running and each settled step prints one coloured line; when stdout is
not a terminal (CI logs, pipes) every event is one plain line with no control
characters.
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import TYPE_CHECKING

from flowy import hookimpl

from flowy_cli.output import console, fmt_duration, stdout
from flowy_cli.terminal_text import escape_markup, escape_text

if TYPE_CHECKING:
    from flowy.kernel.records import CacheEntry, RunRecord, StepResult, StepTask
    from rich.console import Console
    from rich.status import Status

SYMBOLS = {
    "running": ("…", "yellow"),
    "retrying": ("↻", "yellow"),
    "completed": ("✓", "green"),
    "cached": ("↺", "cyan"),
    "failed": ("✗", "red"),
    "timed_out": ("⏱", "red"),
    "skipped": ("-", "dim"),
    "fallback": ("⤳", "yellow"),
}
LABELS = {"completed": "done", "timed_out": "timed out"}


def write_stdout(text: str) -> None:
    """Write (and flush) ``text`` to stdout; a reader gone away (``| head``) is not an error.

    Flushed line by line so that a pipe or a log sees each step as it settles.
    Written to the run's own stdout (:func:`flowy_cli.output.stdout`), never
    to a step's captured output.
    """
    out = stdout()
    try:
        out.write(text)
        out.flush()
    except BrokenPipeError:
        stdout_gone()


def stdout_gone() -> None:
    """Stdout's reader closed it: send the rest to ``os.devnull`` and let the run go on.

    Output is a view of the run, not part of it: ``flowy run p.py | head -4``
    must finish and record the run as if nobody had stopped reading. The
    descriptor is replaced (not just ``sys.stdout``) so that Python's flush at
    exit, and anything holding the old stream, write nowhere instead of failing:
    the run's own duplicate (:func:`flowy_cli.output.own_descriptors`) and
    descriptor 1 itself (while a step's output is captured, the one restored after it).
    """
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            fd = stdout().fileno()
            os.dup2(devnull, fd)
            if fd != 1:
                from flowy.run import point_outside

                point_outside(1, devnull)
        finally:
            os.close(devnull)


class ProgressReporter:
    """Prints each step's state changes; registered for one run."""

    def __init__(self, *, live: bool, resumed_from: str | None = None) -> None:
        self.live = live
        #: The run named by ``--resume`` (as the user wrote it), for the header.
        self.resumed_from = resumed_from
        self.started: dict[str, float] = {}
        self.failures: list[tuple[str, str]] = []
        self.run_id: str | None = None
        self._status: Status | None = None
        #: Mapped step -> [elements settled, elements]: shown as ``train[37/200]``.
        self.maps: dict[str, list[int]] = {}

    @property
    def console(self) -> Console:
        """The rich console, only for live output: plain lines never import rich (~40 ms)."""
        return console()

    # -- rendering -----------------------------------------------------------

    def _line(self, step: str, state: str, detail: str = "") -> None:
        label = LABELS.get(state, state)
        # Step names and error messages come from the pipeline: shown escaped, never obeyed.
        step, detail = escape_text(step), escape_text(detail, keep_lines=True)
        if not self.live:
            # Plain lines for logs and pipes: a direct write, no rich layout per step.
            write_stdout(f"{step}: {label}{'  ' + detail if detail else ''}\n")
            return
        from rich.markup import escape

        symbol, style = SYMBOLS.get(state, ("?", ""))
        self.console.print(
            f"[{style}]{symbol}[/] {escape(step)} [{style}]{label}[/]"
            + (f" [dim]{escape(detail)}[/]" if detail else "")
        )
        if state != "retrying":  # from an executor's thread: the spinner is the run's to change
            self._refresh()

    def _refresh(self) -> None:
        if not self.live:
            return
        running = sorted(self.started)
        running = [f"{n}[{self.maps[n][0]}/{self.maps[n][1]}]" if n in self.maps else n
                   for n in running]  # fmt: skip
        if running and self._status is None:
            self._status = self.console.status("", spinner="dots")
            self._status.start()
        if self._status is not None:
            if running:
                self._status.update(f"running {escape_markup(', '.join(running))}")
            else:
                self._status.stop()
                self._status = None

    def close(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    # -- hooks ---------------------------------------------------------------

    @hookimpl
    def flowy_pipeline_started(self, run: RunRecord) -> None:
        self.run_id = run.run_id
        stack = run.stack.get("name", "?")
        pipeline_name, stack = escape_text(run.pipeline), escape_text(stack)
        resuming = f", resuming run {self.resumed_from}" if self.resumed_from else ""
        if self.live:
            from rich.markup import escape

            self.console.print(
                f"[bold]{escape_markup(run.pipeline)}[/] run [bold]{run.run_id[:12]}[/] "
                f"on stack [bold]{escape_markup(stack)}[/]" + escape(resuming)
            )
        else:
            write_stdout(f"{pipeline_name} run {run.run_id} on stack {stack}{resuming}\n")

    # -- the elements of mapped steps: counted, not listed ----------------------

    def _map_of(self, step: str) -> str | None:
        """The mapped step ``step`` is an element of (``train`` for ``train[3]``), or None."""
        from flowy.artifacts import element_of

        element = element_of(step) if step.endswith("]") else None
        return element[0] if element is not None and element[0] in self.maps else None

    def _element_settled(self, base: str, element: str, state: str, detail: str = "") -> None:
        """Count a settled element; on a terminal the spinner shows the count, in a log a
        line every tenth of the way (and every failure, with its element)."""
        count = self.maps[base]
        count[0] += 1
        if state not in ("completed", "cached"):
            self._line(element, state, detail)
        if self.live:
            self._refresh()
        elif count[0] == count[1] or count[0] % max(1, count[1] // 10) == 0:
            write_stdout(f"{escape_text(base)}[{count[0]}/{count[1]}]\n")

    @hookimpl
    def flowy_step_mapped(self, run: RunRecord, step: str, count: int) -> None:
        self.maps[step] = [0, count]

    @hookimpl
    def flowy_step_started(self, run: RunRecord, task: StepTask) -> None:
        if self._map_of(task.step) is not None:
            return
        self.started[task.step] = time.perf_counter()
        if self.live:
            self._refresh()
        else:
            self._line(task.step, "running")

    @hookimpl
    def flowy_step_finished(self, run: RunRecord, task: StepTask, result: StepResult) -> None:
        if (base := self._map_of(task.step)) is not None:
            self._element_settled(base, task.step, "completed")
            return
        self.started.pop(task.step, None)
        if result.status == "fallback":  # its circuit breaker is open (flowy.run.circuits)
            self._line(task.step, "fallback", result.error or "")
            return
        attempts = f", {result.attempts} attempts" if result.attempts > 1 else ""
        self._line(
            task.step, "completed", fmt_duration(result.finished_at - result.started_at) + attempts
        )

    @hookimpl
    def flowy_step_failed(self, run: RunRecord, task: StepTask, result: StepResult) -> None:
        state = result.status if result.status in SYMBOLS else "failed"
        duration = fmt_duration(result.finished_at - result.started_at)
        attempts = f", {result.attempts} attempts" if result.attempts > 1 else ""
        if (base := self._map_of(task.step)) is not None:
            detail = f"{duration}{attempts}: {result.error or 'no error message'}"
            self._element_settled(base, task.step, state, detail)
            return
        self.started.pop(task.step, None)
        self._line(task.step, state, f"{duration}{attempts}: {result.error or 'no error message'}")
        self.failures.append((task.step, result.error or ""))

    @hookimpl
    def flowy_step_retrying(
        self, run: RunRecord, task: StepTask, result: StepResult, delay: float
    ) -> None:
        # Shown as it happens (the step is still running): which attempt failed, and why.
        error = (result.error or "no error message").splitlines()[0]
        what = "timed out" if result.status == "timed_out" else f"failed: {error}"
        self._line(
            task.step,
            "retrying",
            f"attempt {result.attempts} of {task.retries + 1} {what}; "
            f"next in {fmt_duration(delay)}",
        )

    @hookimpl
    def flowy_step_cached(self, run: RunRecord, task: StepTask, entry: CacheEntry) -> None:
        # entry.run_id is the run the outputs come from: a resumed run's steps name it.
        if (base := self._map_of(task.step)) is not None:
            self._element_settled(base, task.step, "cached")
            return
        how = "re-used from" if self.resumed_from else "from"
        self._line(task.step, "cached", f"{how} run {entry.run_id[:12]}")

    @hookimpl
    def flowy_step_skipped(self, run: RunRecord, step: str, reason: str) -> None:
        if (base := self._map_of(step)) is not None:
            self._element_settled(base, step, "skipped", reason)
            return
        self._line(step, "skipped", reason)

    @hookimpl
    def flowy_pipeline_finished(self, run: RunRecord, status: str) -> None:
        self.close()
