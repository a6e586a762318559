"""Zero-downtime stage following: promote and roll back while a client hammers /predict.

A second version of the model is trained and registered; the server follows
``@production``; a client thread sends requests without pause while
``flowy model promote`` (then ``flowy model rollback``) runs in a subprocess.
No request may fail, /metadata must show the new version, and the answers'
``X-Flowy-Model-Version`` headers must go from the old version to the new one
and never back (each request uses the version it started with).
"""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest
from serve_support import run_flowy, serving, train_artifact, wait_for

pytestmark = pytest.mark.slow

ROW = {"records": [{"x1": 0.3, "x2": -1.2, "region": "north"}]}


class Hammer:
    """Sends /predict requests back to back in a thread; records versions and failures."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.versions: list[int] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=60) as http:
            while not self._stop.is_set():
                try:
                    answer = http.post("/predict", json=ROW)
                except httpx.HTTPError as exc:
                    self.failures.append(f"{type(exc).__name__}: {exc}")
                    continue
                if answer.status_code != 200:
                    self.failures.append(f"{answer.status_code}: {answer.text}")
                else:
                    self.versions.append(int(answer.headers["x-flowy-model-version"]))

    def __enter__(self) -> Hammer:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=60)


def _served_version(http: httpx.Client) -> int:
    return int(http.get("/metadata").json()["version"])


def test_promotion_and_rollback_switch_versions_without_a_failed_request(trained: Any) -> None:
    project, env = trained("sklearn", "follow")
    run_flowy(project, env, "run", "pipeline.py", "-p", "n_estimators=7")
    run_flowy(project, env, "model", "register", "follow", train_artifact(project, env))

    with (
        serving(project, env, "follow@production", "--poll-interval", "0.2") as server,
        server.client() as http,
    ):
        assert _served_version(http) == 1
        with Hammer(server.url) as hammer:
            wait_for(lambda: len(hammer.versions) >= 20, what="requests before the promotion")
            run_flowy(project, env, "model", "promote", "follow", "2", "--to", "production")
            wait_for(lambda: _served_version(http) == 2, what="version 2 served")
            seen = len(hammer.versions)
            wait_for(lambda: len(hammer.versions) >= seen + 20, what="requests after it")
            run_flowy(project, env, "model", "rollback", "follow")
            wait_for(lambda: _served_version(http) == 1, what="version 1 served again")
            seen = len(hammer.versions)
            wait_for(lambda: len(hammer.versions) >= seen + 20, what="requests after rollback")
        metrics = http.get("/metrics").text
    assert hammer.failures == []
    versions = hammer.versions
    first_two = versions.index(2)
    back = first_two + versions[first_two:].index(1)
    assert set(versions[:first_two]) == {1}
    assert set(versions[first_two:back]) == {2}
    assert set(versions[back:]) == {1}
    assert "flowy_serve_model_switches_total 2.0" in metrics


def test_a_fixed_version_is_not_followed(trained: Any) -> None:
    project, env = trained("sklearn", "follow")
    with serving(project, env, "follow:1") as server, server.client() as http:
        meta = http.get("/metadata").json()
    assert meta["version"] == 1 and "following" not in meta
