"""The vertex executor's remote mode through its real REST client, against a stand-in service.

The executor authenticates with Application Default Credentials (a
service-account key whose token endpoint is a local server), creates custom
jobs, polls and cancels them over HTTP; :mod:`vertexstub` plays Vertex AI and
runs each job's own container command against the storage emulator. What
this shows: the client, the request it sends, and what the executor makes of
each state. What it cannot show: that Google accepts the request and behaves
as the stand-in does (see docs/gcp.md, "What is tested").
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from .vertexstub import TOKEN, VertexStub

pytestmark = pytest.mark.slow


@pytest.fixture
def vertex() -> Iterator[VertexStub]:
    stub = VertexStub()
    yield stub
    stub.close()


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """ADC: a service-account key whose token endpoint (local) hands out the stub's token."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = json.dumps(
                {"access_token": TOKEN, "expires_in": 3600, "token_type": "Bearer"}
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    key = tmp_path / "key.json"
    key.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "flowy-test",
                "private_key_id": "k1",
                "private_key": pem,
                "client_email": "flowy@flowy-test.iam.gserviceaccount.com",
                "client_id": "1",
                "token_uri": f"http://127.0.0.1:{server.server_address[1]}/token",
            }
        )
    )
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key))
    yield
    server.shutdown()
    server.server_close()


PIPELINE = """
import os
from flowy import Pipeline, step

@step
def prepare() -> list:
    return [1, 2, 3]

@step(timeout=30, resources={"cpu": 2, "memory": "12GB"})
def train(prepare: list) -> int:
    print("training with", os.environ.get("FLOWY_GCS_ENDPOINT_URL"))
    return sum(prepare)

@step(retries=1, retry_backoff=0.01)
def crash(prepare: list) -> int:
    return 0

@step(retries=2, retry_backoff=0.01, timeout=5)
def slow(prepare: list) -> int:
    return 0

@step(retries=2, retry_backoff=0.01)
def cancelled(prepare: list) -> int:
    return 0

pipeline = Pipeline("on-vertex", [prepare, train, crash, slow, cancelled])
"""


@pytest.fixture
def run_on_vertex(
    project: Path,
    gcp_plugins: Any,
    store_options: dict[str, Any],
    vertex: VertexStub,
    credentials: None,
) -> Any:
    import tomli_w
    from flowy.run.engine import run_pipeline
    from flowy.run.loader import load_module

    stacks = project / ".flowy" / "stacks"
    stacks.mkdir(exist_ok=True)
    (project / "vx_pipe.py").write_text(PIPELINE)
    module = load_module(project / "vx_pipe.py")

    def run(**executor: Any) -> Any:
        options = {
            "project": "flowy-test",
            "region": "europe-west4",
            "image": "europe-west4-docker.pkg.dev/flowy-test/jobs/flowy:1",
            "api_endpoint": vertex.url,
            "python": sys.executable,  # the stand-in runs the container command here
            "poll_interval": 0.05,
            "labels": {"team": "ml"},
            **executor,
        }
        stack = {
            "executor": {"type": "vertex", **options},
            "metadata_store": {"type": "sqlite", "url": f"sqlite:///{project}/.flowy/meta.db"},
            "artifact_store": {"type": "gcs", **store_options},
        }
        (stacks / "vx.toml").write_text(tomli_w.dumps(stack))
        return run_pipeline(
            module.pipeline, stack="vx", plugins=gcp_plugins, project=project, no_cache=True
        )

    return run


def test_jobs_run_and_fail_with_local_semantics(
    run_on_vertex: Any, vertex: VertexStub, gcs_endpoint: str
) -> None:
    vertex.script["crash"] = ["fail"]
    vertex.script["slow"] = ["deadline"]
    vertex.script["cancelled"] = ["cancelled"]
    result = run_on_vertex()
    steps = result.steps
    assert steps["prepare"].status == "completed", steps["prepare"].error
    assert steps["train"].status == "completed", steps["train"].error
    assert result["train"] == 6 and f"training with {gcs_endpoint}" in steps["train"].logs
    # a failed job: failed, retried (retries=1), Vertex's message and where the logs are
    assert steps["crash"].status == "failed" and steps["crash"].attempts == 2
    assert "ran out of memory" in steps["crash"].error
    assert "gcloud ai custom-jobs stream-logs" in steps["crash"].error
    assert "--region=europe-west4" in steps["crash"].error
    # scheduling.timeout hit: timed_out, retried like a local timeout
    assert steps["slow"].status == "timed_out" and steps["slow"].attempts == 3
    assert "stopping condition (5 s, Job exceeded its scheduling timeout.)" in steps["slow"].error
    # cancelled by someone: failed, not retried
    assert steps["cancelled"].status == "failed" and steps["cancelled"].attempts == 1
    assert "was stopped" in steps["cancelled"].error

    by_step: dict[str, list[dict[str, Any]]] = {}
    for body in vertex.requests:
        by_step.setdefault(body["labels"]["flowy-step"], []).append(body)
    assert len(by_step["train"]) == 1 and len(by_step["crash"]) == 2
    (train,) = by_step["train"]
    pool = train["jobSpec"]["workerPoolSpecs"][0]
    assert pool["machineSpec"] == {"machineType": "n1-highmem-2"}  # cpu 2, 12 GB
    assert pool["containerSpec"]["imageUri"].endswith("/jobs/flowy:1")
    assert pool["containerSpec"]["command"][1:] == ["-m", "flowy_gcp.entrypoint"]
    assert pool["containerSpec"]["args"][0].endswith("/task.json")
    env = {e["name"]: e["value"] for e in pool["containerSpec"]["env"]}
    assert env["FLOWY_GCS_ENDPOINT_URL"] == gcs_endpoint and env["FLOWY_GCS_ANONYMOUS"] == "1"
    assert train["jobSpec"]["scheduling"]["timeout"] == "30s"
    assert train["labels"]["team"] == "ml" and train["labels"]["flowy-pipeline"] == "on-vertex"
    assert train["displayName"].startswith("flowy-on-vertex-train-a")


def test_max_wait_cancels_a_job_that_never_ends(run_on_vertex: Any, vertex: VertexStub) -> None:
    vertex.script["prepare"] = ["hang"]
    result = run_on_vertex(max_wait=0.3)
    rec = result.steps["prepare"]
    assert rec.status == "timed_out" and "max_wait=0.3 s" in rec.error
    assert len(vertex.cancelled) == 1 and vertex.cancelled[0].endswith("/customJobs/1001")


def test_an_api_that_is_not_enabled_fails_with_the_fix(
    run_on_vertex: Any, vertex: VertexStub
) -> None:
    vertex.script["prepare"] = ["refuse"]
    rec = run_on_vertex().steps["prepare"]
    assert rec.status == "failed" and rec.attempts == 1
    assert "gcloud services enable aiplatform.googleapis.com --project=flowy-test" in rec.error


def test_without_credentials_the_run_stops_before_any_job(
    project: Path,
    gcp_plugins: Any,
    store_options: dict[str, Any],
    vertex: VertexStub,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    from flowy_gcp.errors import GcpCredentialsError
    from flowy_gcp.gcs_store import GcsArtifactStore
    from flowy_gcp.vertex import VertexExecutor

    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "none.json"))
    executor = VertexExecutor(
        project="flowy-test", region="europe-west4", image="img:1", api_endpoint=vertex.url
    )
    runtime = type("Runtime", (), {"artifact_store": GcsArtifactStore(**store_options)})()
    with pytest.raises(GcpCredentialsError, match="gcloud auth application-default login"):
        executor.bind(runtime)  # type: ignore[arg-type]
    executor.shutdown()
    assert vertex.requests == []
