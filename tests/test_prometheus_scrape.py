"""A real Prometheus server scrapes ``flowy monitor serve`` and has Flowy's series.

Prometheus (Debian's ``prometheus`` package, /usr/bin/prometheus; installed by
scripts/install-system-packages.sh) is started on 127.0.0.1 with a generated
config: a one-second scrape job with the bearer token ``flowy monitor serve``
requires (as docs/operations.md tells). The test asks Prometheus's HTTP API until
the series a real run produced are there.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import FLOWY

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"

PIPELINE = """
from flowy import Pipeline, step

@step
def load() -> int:
    return 1

@step(cache=False)
def fit(load: int) -> int:
    return load + 1

pipeline = Pipeline("scraped", [load, fit])
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _poll(what: str, probe: Any, timeout: float = 180) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.25)


def _stop(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


@pytest.fixture
def flowy_metrics(tmp_path: Path, flowy_env: Any, flowy_runner: Any) -> Iterator[tuple[str, Path]]:
    """``flowy monitor serve`` with a token, after two real runs: ``(host:port, token file)``."""
    project = tmp_path / "project"
    (project / ".flowy").mkdir(parents=True)
    (project / "p.py").write_text(PIPELINE)
    env = flowy_env(tmp_path / "home", FLOWY_PROJECT=str(project))
    flowy = flowy_runner(project, env)
    flowy("run", "p.py")
    flowy("run", "p.py")
    token = tmp_path / "metrics-token"
    token.write_text("prometheus-scrape-token\n")
    server = subprocess.Popen(
        [*FLOWY, "monitor", "serve", "--port", "0", "--token-file", str(token)],
        cwd=project, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert server.stderr is not None
        line = server.stderr.readline()
        assert "/metrics" in line, line
        url = line.split(" at ", 1)[1].split()[0]
        yield url.removeprefix("http://").removesuffix("/metrics"), token
    finally:
        _stop(server)


@pytest.fixture
def prometheus(tmp_path: Path, flowy_metrics: tuple[str, Path]) -> Iterator[str]:
    """A Prometheus server scraping ``flowy_metrics`` every second; yields its base URL."""
    target, token = flowy_metrics
    port = _free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n"
        "  scrape_interval: 1s\n"
        "  evaluation_interval: 1s\n"
        "scrape_configs:\n"
        "  - job_name: flowy\n"
        "    scrape_interval: 1s\n"
        "    scrape_timeout: 1s\n"
        "    authorization:\n"
        f"      credentials_file: {token}\n"
        "    static_configs:\n"
        f"      - targets: ['{target}']\n"
    )
    log = tmp_path / "prometheus.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:

        def ready() -> bool:
            if server.poll() is not None:
                raise AssertionError(f"prometheus exited:\n{log.read_text()}")
            try:
                return httpx.get(f"{base}/-/ready", timeout=5).status_code == 200
            except httpx.HTTPError:
                return False

        _poll("Prometheus to be ready", ready)
        yield base
    finally:
        _stop(server)


def _query(base: str, expr: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{base}/api/v1/query", params={"query": expr}, timeout=10).json()
    assert answer["status"] == "success", answer
    return list(answer["data"]["result"])


@pytest.mark.slow
def test_prometheus_scrapes_flowy_series(prometheus: str) -> None:
    runs = _poll(
        "flowy_runs_total in Prometheus",
        lambda: _query(prometheus, 'flowy_runs_total{pipeline="scraped",status="completed"}'),
    )
    assert float(runs[0]["value"][1]) == 2
    assert runs[0]["metric"]["job"] == "flowy"
    hits = _query(prometheus, 'flowy_cache_hits_total{pipeline="scraped",step="load"}')
    assert float(hits[0]["value"][1]) == 1
    buckets = _query(
        prometheus, 'flowy_step_duration_seconds_bucket{pipeline="scraped",step="fit"}'
    )
    assert {b["metric"]["le"] for b in buckets} >= {"0.1", "+Inf"}
    assert float(_query(prometheus, 'up{job="flowy"}')[0]["value"][1]) == 1
    assert float(_query(prometheus, "flowy_up")[0]["value"][1]) == 1
    targets = httpx.get(f"{prometheus}/api/v1/targets", timeout=10).json()
    (target,) = targets["data"]["activeTargets"]
    assert target["health"] == "up", target  # the bearer token was accepted


@pytest.mark.slow
def test_prometheus_evaluates_every_dashboard_expression(prometheus: str) -> None:
    """docs/grafana/flowy.json's queries are valid PromQL over Flowy's real series."""
    import json

    _poll("Flowy's series in Prometheus", lambda: _query(prometheus, "flowy_runs_total"))
    dashboard = json.loads((Path(__file__).parents[1] / "docs/grafana/flowy.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    for expr in exprs:
        concrete = expr.replace("$pipeline", ".*").replace("$__range", "1h")
        _query(prometheus, concrete)  # asserts status success (a parse error is 400)
    running = _query(prometheus, dashboard["panels"][1]["targets"][0]["expr"].replace(
        "$pipeline", ".*"))  # fmt: skip
    assert running == []  # nothing runs: no series (the query itself is fine)
