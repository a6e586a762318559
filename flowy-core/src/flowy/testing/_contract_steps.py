"""Steps the executor contract suite runs, in an importable module.

They live here, not in the tests, so that worker processes and Dask workers can
import them by reference like any user's steps. Each records what happened to
it as small files in the ``marks`` folder (a context parameter): one file per
attempt, holding the pid and the start and end times. Files, not return values,
because a step may be killed before it returns and may run in any process.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
import uuid

from flowy.run.step_log import log_metric
from flowy.run.steps import step


def mark(marks: str, name: str, started: float, **extra: object) -> None:
    """Record one attempt of ``name``: ``pid start end`` plus extra fields."""
    path = os.path.join(marks, f"{name}.{uuid.uuid4().hex}.mark")
    fields = [str(os.getpid()), repr(started), repr(time.time())]
    fields += [f"{k}={v}" for k, v in extra.items()]
    with open(path, "w") as f:
        f.write(" ".join(fields))


def attempts_so_far(marks: str, name: str) -> int:
    return sum(1 for f in os.listdir(marks) if f.startswith(f"{name}.") and f.endswith(".mark"))


# -- a diamond and an independent step -----------------------------------------


@step
def top(marks: str, base: int = 1) -> int:
    started = time.time()
    mark(marks, "top", started)
    return base


def meet(marks: str, me: str, partner: str, wait: float) -> bool:
    """Announce ``me`` and wait up to ``wait`` seconds for ``partner`` to announce itself.

    True for both proves the two steps ran at the same time (each was running
    when the other arrived) however slow the machine is; under a sequential
    executor the first to run gives up, because its partner starts only after
    it returns.
    """
    open(os.path.join(marks, f"arrived-{me}"), "w").close()
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if os.path.exists(os.path.join(marks, f"arrived-{partner}")):
            return True
        time.sleep(0.01)
    return False


def _branch(marks: str, me: str, partner: str, pause: float, rendezvous: float) -> None:
    """The body of both sides of the diamond: pause, maybe meet the other side, mark."""
    started = time.time()
    time.sleep(pause)
    met = meet(marks, me, partner, rendezvous) if rendezvous else None
    mark(marks, me, started, met=met)


@step
def left(marks: str, top: int, pause: float = 0.0, rendezvous: float = 0.0) -> int:
    _branch(marks, "left", "right", pause, rendezvous)
    return top + 10


@step
def right(marks: str, top: int, pause: float = 0.0, rendezvous: float = 0.0) -> int:
    _branch(marks, "right", "left", pause, rendezvous)
    return top + 100


@step
def bottom(marks: str, left: int, right: int) -> int:
    started = time.time()
    mark(marks, "bottom", started)
    return left + right


@step
def alone(marks: str) -> str:
    started = time.time()
    mark(marks, "alone", started)
    return "alone"


# -- retries -------------------------------------------------------------------


@step(retries=3, retry_backoff=0.2, retry_on=ConnectionError)
def flaky(marks: str) -> str:
    """Fails twice with a retryable error, then succeeds."""
    started = time.time()
    n = attempts_so_far(marks, "flaky")
    mark(marks, "flaky", started)
    if n < 2:
        raise ConnectionError(f"attempt {n + 1} fails")
    return "recovered"


@step(retries=2, retry_backoff=0.05, retry_on=ConnectionError)
def watched(marks: str) -> str:
    """Fails once; the second attempt waits until the run has heard of the retry.

    The listener of the contract test creates ``retry-heard`` when its
    ``flowy_step_retrying`` is called, so the step completes only if the executor
    reported the retry while the step was still running, however slow the machine.
    """
    started = time.time()
    n = attempts_so_far(marks, "watched")
    mark(marks, "watched", started)
    if n == 0:
        raise ConnectionError("the first attempt fails")
    heard = os.path.join(marks, "retry-heard")
    deadline = time.monotonic() + 60
    while not os.path.exists(heard):
        if time.monotonic() > deadline:
            raise RuntimeError("the retry was not reported while the step was running")
        time.sleep(0.01)
    return "heard"


#: The line :func:`talker` prints before waiting to be seen.
TALKER_LINE = "talker says hello while it runs"


def _talk(marks: str, name: str) -> str:
    print(TALKER_LINE, flush=True)
    seen = os.path.join(marks, f"output-seen-{name}")
    deadline = time.monotonic() + 60
    while not os.path.exists(seen):
        if time.monotonic() > deadline:
            raise RuntimeError("the output was not shown while the step was running")
        time.sleep(0.01)
    print("talker is done")
    return "seen"


@step
def talker(marks: str) -> str:
    """Prints a line, then waits until the run showed it (``output-seen-talker``), then ends.

    The contract test creates that file once it reads the line from the
    metadata store's live output of this running step, so the step completes
    only if the executor forwarded its output while it ran, however slow the machine.
    """
    return _talk(marks, "talker")


@step(timeout=120)
def talker_timed(marks: str) -> str:
    """:func:`talker` with a timeout (run where it can be stopped: a forked child, say)."""
    return _talk(marks, "talker_timed")


@step(retries=3, retry_backoff=0.05, retry_on=ConnectionError)
def hopeless(marks: str) -> str:
    """Fails with an error outside ``retry_on``: must not be retried."""
    mark(marks, "hopeless", time.time())
    raise ValueError("not worth retrying")


# -- timeouts ------------------------------------------------------------------


@step(timeout=8.0)
def stubborn(marks: str) -> str:
    """Starts a child process, then overruns its timeout; both must be stopped.

    The timeout leaves a loaded machine time to start the attempt and the child and to
    write their pids (2 s did not, once, beside a Ray cluster); the sleep overruns it.
    """
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    with open(os.path.join(marks, "stubborn.pids"), "w") as f:
        f.write(f"{os.getpid()} {child.pid}")
    time.sleep(120)
    return "never"


# -- failure isolation ---------------------------------------------------------


@step
def root(marks: str) -> int:
    mark(marks, "root", time.time())
    return 1


@step
def broken(marks: str, root: int) -> int:
    mark(marks, "broken", time.time())
    raise ValueError("broken on purpose")


@step
def after_broken(marks: str, broken: int) -> int:
    mark(marks, "after_broken", time.time())
    return broken


@step
def far_after_broken(marks: str, after_broken: int) -> int:
    mark(marks, "far_after_broken", time.time())
    return after_broken


@step
def healthy(marks: str, root: int, pause: float = 0.3) -> int:
    started = time.time()
    time.sleep(pause)  # still running when ``broken`` fails
    mark(marks, "healthy", started)
    return root + 1


@step
def after_healthy(marks: str, healthy: int) -> int:
    mark(marks, "after_healthy", time.time())
    return healthy + 1


# -- logs and metrics ----------------------------------------------------------


@step
def chatty(marks: str) -> float:
    mark(marks, "chatty", time.time())
    print("chatty says hello on stdout")
    logging.getLogger("flowy.contract").warning("chatty logs a warning")
    for i, loss in enumerate([0.9, 0.5, 0.25]):
        log_metric("loss", loss, step=i)
    return 0.25


# -- resources -----------------------------------------------------------------


def _hungry(marks: str, name: str, pause: float) -> int:
    started = time.time()
    time.sleep(pause)
    mark(marks, name, started)
    return 1


@step(resources={"cpu": 1})
def hungry_a(marks: str, pause: float = 0.3) -> int:
    return _hungry(marks, "hungry_a", pause)


@step(resources={"cpu": 1})
def hungry_b(marks: str, pause: float = 0.3) -> int:
    return _hungry(marks, "hungry_b", pause)


@step(resources={"cpu": 1})
def hungry_c(marks: str, pause: float = 0.3) -> int:
    return _hungry(marks, "hungry_c", pause)


@step(resources={"cpu": 1})
def hungry_d(marks: str, pause: float = 0.3) -> int:
    return _hungry(marks, "hungry_d", pause)
