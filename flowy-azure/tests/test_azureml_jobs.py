"""Azure ML command-job requests and state mapping (pure functions), and the remote mode's
HTTP calls against a stand-in for Azure Resource Manager.

There is no Azure ML emulator, so what is tested without Azure is: the request
body Flowy builds (checked field by field against the documented *Jobs - Create
Or Update* shape, not validated by the service), the state mapping, and the
executor's PUT / GET / cancel calls with a bearer token, against a small local
HTTP server that plays the service by running each job's own command (with
its environment variables) as a local process, as the compute would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from flowy.kernel.records import StepTask
from flowy.remote_jobs import COMPLETED, FAILED, RUNNING, STOPPED, TIMED_OUT, JobSpec
from flowy_azure import jobs
from flowy_azure.azureml import AzureMLOptions

SUB = "00000000-1111-2222-3333-444444444444"
WS = (
    f"/subscriptions/{SUB}/resourceGroups/ml"
    "/providers/Microsoft.MachineLearningServices/workspaces/ml-ws"
)


def options(**overrides: Any) -> AzureMLOptions:
    values: dict[str, Any] = {
        "subscription_id": SUB,
        "resource_group": "ml",
        "workspace": "ml-ws",
        "compute": "cpu-cluster",
        "aml_environment": "azureml:flowy:3",
        **overrides,
    }
    return AzureMLOptions.model_validate(values)


def task(**overrides: Any) -> StepTask:
    from flowy.kernel.records import ComponentSpec, StepRef

    values: dict[str, Any] = {
        "run_id": "run1",
        "pipeline": "train pipeline",
        "step": "fit",
        "step_ref": StepRef(module="m", qualname="fit"),
        "code_hash": "0" * 16,
        "params": {},
        "inputs": {},
        "outputs": ["out"],
        "artifact_store": ComponentSpec("artifact_store", "azure_blob"),
        **overrides,
    }
    return StepTask(**values)


def spec(t: StepTask | None = None) -> JobSpec:
    return JobSpec(
        name="flowy-train-pipeline-fit-a1-abcd1234",
        task=t or task(),
        manifest_uri="az://box/flowy-jobs/run1/fit/x/task.json",
        folder="az://box/flowy-jobs/run1/fit/x",
        command=(
            "python3",
            "-m",
            "flowy_azure.entrypoint",
            "az://box/flowy-jobs/run1/fit/x/task.json",
        ),
        environment={"FLOWY_AZURE_ACCOUNT_NAME": "acct", "PYTHONUNBUFFERED": "1"},
    )


# -- the request ---------------------------------------------------------------------


def test_command_job_request() -> None:
    body = jobs.command_job_request(spec(task(timeout=90.5)), options(tags={"team": "ml"}))
    props = body["properties"]
    assert props["jobType"] == "Command"
    assert props["command"] == (
        "python3 -m flowy_azure.entrypoint az://box/flowy-jobs/run1/fit/x/task.json"
    )
    assert props["environmentId"] == f"{WS}/environments/flowy/versions/3"
    assert props["computeId"] == f"{WS}/computes/cpu-cluster"
    assert props["environmentVariables"]["FLOWY_AZURE_ACCOUNT_NAME"] == "acct"
    assert props["limits"] == {"jobLimitsType": "Command", "timeout": "PT91S"}
    assert props["resources"] == {"instanceCount": 1}
    assert props["identity"] == {"identityType": "Managed"}
    assert props["experimentName"] == "train-pipeline"
    assert props["tags"] == {
        "flowy:pipeline": "train pipeline",
        "flowy:run": "run1",
        "flowy:step": "fit",
        "team": "ml",
    }
    json.dumps(body)  # what goes over the wire


def test_step_resources_size_the_job() -> None:
    t = task(resources={"instance_count": 2, "instance_type": "Standard_NC6s_v3", "shm_size": "8g"})
    props = jobs.command_job_request(spec(t), options())["properties"]
    assert props["resources"] == {
        "instanceCount": 2,
        "instanceType": "Standard_NC6s_v3",
        "shmSize": "8g",
    }
    gpu = jobs.command_job_request(spec(task(resources={"gpu": 1})), options(gpu_compute="gpus"))
    assert gpu["properties"]["computeId"] == f"{WS}/computes/gpus"
    other = jobs.command_job_request(spec(task(resources={"compute": "big"})), options())
    assert other["properties"]["computeId"] == f"{WS}/computes/big"


def test_serverless_compute_needs_an_instance_type() -> None:
    with pytest.raises(ValueError, match="serverless compute needs an instance type"):
        jobs.command_job_request(spec(), options(compute="serverless"))
    body = jobs.command_job_request(
        spec(), options(compute="serverless", instance_type="Standard_DS3_v2")
    )
    assert "computeId" not in body["properties"]
    assert body["properties"]["resources"]["instanceType"] == "Standard_DS3_v2"


def test_steps_without_timeout_get_max_runtime() -> None:
    body = jobs.command_job_request(spec(), options(max_runtime=7200))
    assert body["properties"]["limits"]["timeout"] == "PT7200S"


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("azureml:flowy:3", f"{WS}/environments/flowy/versions/3"),
        ("flowy:3", f"{WS}/environments/flowy/versions/3"),
        (
            "azureml://registries/azureml/environments/sklearn-1.5/versions/2",
            "azureml://registries/azureml/environments/sklearn-1.5/versions/2",
        ),
        (f"{WS}/environments/e/versions/1", f"{WS}/environments/e/versions/1"),
    ],
)
def test_environment_references(reference: str, expected: str) -> None:
    assert jobs.environment_id(reference, WS) == expected


@pytest.mark.parametrize("bad", ["flowy", "azureml:flowy@latest", "azureml:a:b:c"])
def test_bad_environment_references_say_the_format(bad: str) -> None:
    with pytest.raises(ValueError, match="azureml:NAME:VERSION"):
        jobs.environment_id(bad, WS)


def test_options_name_what_remote_mode_needs() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="subscription_id, resource_group"):
        AzureMLOptions.model_validate({"mode": "azureml", "workspace": "ml-ws"})
    assert AzureMLOptions.model_validate({"mode": "local"}).mode == "local"
    with pytest.raises(ValidationError, match="shm_size"):
        options(shm_size="lots")


# -- states --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("NotStarted", RUNNING),
        ("Queued", RUNNING),
        ("Preparing", RUNNING),
        ("Running", RUNNING),
        ("Finalizing", RUNNING),
        ("CancelRequested", RUNNING),
        ("Completed", COMPLETED),
        ("Failed", FAILED),
        ("NotResponding", FAILED),
        (None, RUNNING),
    ],
)
def test_job_states(status: str | None, state: str) -> None:
    assert jobs.job_status({"properties": {"status": status}}).state == state


def test_a_cancel_at_the_time_limit_is_a_timeout() -> None:
    body = {"properties": {"status": "Canceled"}}
    assert jobs.job_status(body, timeout=60, elapsed=61).state == TIMED_OUT
    assert jobs.job_status(body, timeout=60, elapsed=10).state == STOPPED  # someone cancelled
    assert jobs.job_status(body, cancel_requested=True, timeout=60, elapsed=61).state == STOPPED


def test_logs_hint_names_the_studio_page_and_the_cli() -> None:
    body = {"properties": {"services": {"Studio": {"endpoint": "https://ml.azure.com/runs/x"}}}}
    hint = jobs.logs_hint("x", options(), body)
    assert "https://ml.azure.com/runs/x" in hint
    assert "az ml job stream --name x --resource-group ml --workspace-name ml-ws" in hint


# -- remote mode against a stand-in for Azure Resource Manager ------------------------


class FakeCredential:
    """A token credential: there is no Azure AD here."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        assert scopes == (jobs.SCOPE,)
        return AccessToken("test-token", int(time.time()) + 3600)


class FakeAzureML:
    """Jobs - Create Or Update / Get / Cancel; runs each job's command as a local process."""

    def __init__(self) -> None:
        self.jobs: dict[str, dict[str, Any]] = {}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.requests: list[tuple[str, str, str]] = []
        self.created: dict[str, float] = {}
        #: step -> "fail-before-start" | "cancel" (someone cancels it) | "overrun" (it runs
        #: past limits.timeout and the service cancels it)
        self.outcome: dict[str, str] = {}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _route(self, method: str) -> None:
                path, _, query = self.path.partition("?")
                fake.requests.append((method, path, self.headers.get("Authorization", "")))
                if "api-version=" not in query:
                    return self._reply(400, {"error": {"code": "MissingApiVersion"}})
                if self.headers.get("Authorization") != "Bearer test-token":
                    return self._reply(401, {"error": {"code": "InvalidAuthenticationToken"}})
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                name = path.rsplit("/jobs/", 1)[-1].split("/")[0]
                if method == "PUT" and path.startswith(WS + "/jobs/"):
                    fake.create(name, body)
                    return self._reply(201, fake.jobs[name])
                if method == "GET" and name in fake.jobs:
                    fake.on_poll(name)
                    return self._reply(200, fake.jobs[name])
                if method == "POST" and path.endswith("/cancel") and name in fake.jobs:
                    fake.cancel(name)
                    return self._reply(202, {})
                return self._reply(404, {"error": {"code": "ResourceNotFound", "message": path}})

            def do_PUT(self) -> None:
                self._route("PUT")

            def do_GET(self) -> None:
                self._route("GET")

            def do_POST(self) -> None:
                self._route("POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def create(self, name: str, body: dict[str, Any]) -> None:
        props = body["properties"]
        studio = {"Studio": {"endpoint": f"https://ml.azure.com/runs/{name}"}}
        self.jobs[name] = {
            "name": name,
            "properties": {**props, "status": "Queued", "services": studio},
        }
        self.created[name] = time.monotonic()
        step = props["tags"]["flowy:step"]
        if self.outcome.get(step) in ("cancel", "overrun"):
            self.jobs[name]["properties"]["status"] = "Running"
            return
        if self.outcome.get(step) == "fail-before-start":
            self.jobs[name]["properties"]["status"] = "Failed"
            return
        threading.Thread(target=self._run, args=(name, props), daemon=True).start()

    def _run(self, name: str, props: dict[str, Any]) -> None:
        self.jobs[name]["properties"]["status"] = "Running"
        env = {**os.environ, **props["environmentVariables"]}
        # Azure ML runs `command` with a shell, so the stand-in does too.
        proc = subprocess.Popen(props["command"], shell=True, env=env)
        self.procs[name] = proc
        code = proc.wait()
        if self.jobs[name]["properties"]["status"] == "Running":
            self.jobs[name]["properties"]["status"] = "Completed" if code == 0 else "Failed"

    def on_poll(self, name: str) -> None:
        props = self.jobs[name]["properties"]
        outcome = self.outcome.get(props["tags"]["flowy:step"])
        limit = float(props["limits"]["timeout"][2:-1])  # PT<n>S
        if outcome == "cancel" or (
            outcome == "overrun" and time.monotonic() - self.created[name] >= limit
        ):
            props["status"] = "Canceled"

    def cancel(self, name: str) -> None:
        self.jobs[name]["properties"]["status"] = "Canceled"
        proc = self.procs.get(name)
        if proc is not None:
            proc.kill()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def azureml(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAzureML]:
    import azure.identity

    monkeypatch.setattr(azure.identity, "DefaultAzureCredential", FakeCredential)
    fake = FakeAzureML()
    yield fake
    fake.close()


@pytest.fixture
def remote_stack(project: Path, store_options: dict[str, Any], azureml: FakeAzureML) -> str:
    stacks = project / ".flowy" / "stacks"
    stacks.mkdir(exist_ok=True)
    store = "\n".join(f"{k} = {json.dumps(v)}" for k, v in store_options.items())
    executor = {
        "type": "azureml",
        "subscription_id": SUB,
        "resource_group": "ml",
        "workspace": "ml-ws",
        "compute": "cpu-cluster",
        "aml_environment": "azureml:flowy:3",
        "management_endpoint": azureml.url,
        "python": sys.executable,
        "poll_interval": 0.05,
        "max_wait": 60,
        "retries": 0,
    }
    table = "\n".join(f"{k} = {json.dumps(v)}" for k, v in executor.items())
    (stacks / "azureml.toml").write_text(
        f"[executor]\n{table}\n"
        f'[metadata_store]\ntype = "sqlite"\nurl = "sqlite:///{project}/.flowy/meta.db"\n'
        f'[artifact_store]\ntype = "azure_blob"\n{store}\n'
    )
    return "azureml"


REMOTE = """
import time
from flowy import Pipeline, step

@step
def numbers() -> list:
    print("in the job")
    return [1, 2, 3]

@step
def total(numbers: list) -> int:
    return sum(numbers)

@step(retries=1, retry_backoff=0.01)
def lost(numbers: list) -> int:
    return 0

@step
def cancelled(numbers: list) -> int:
    return 0

@step(timeout=1)
def overran(numbers: list) -> int:
    return 0

pipeline = Pipeline("remote", [numbers, total, lost, cancelled, overran])
"""


@pytest.mark.slow
def test_remote_mode_runs_steps_as_jobs(
    project: Path, azure_plugins: Any, remote_stack: str, azureml: FakeAzureML
) -> None:
    from flowy.run.engine import run_pipeline
    from flowy.run.loader import load_module

    azureml.outcome = {"lost": "fail-before-start", "cancelled": "cancel", "overran": "overrun"}
    (project / "remote.py").write_text(REMOTE)
    module = load_module(project / "remote.py")
    result = run_pipeline(
        module.pipeline, stack=remote_stack, plugins=azure_plugins, project=project
    )
    steps = result.steps
    assert steps["numbers"].status == "completed" and "in the job" in steps["numbers"].logs
    assert result["total"] == 6
    assert steps["lost"].status == "failed" and steps["lost"].attempts == 2
    assert "JobFailed: Azure ML job" in (steps["lost"].error or "")
    assert "https://ml.azure.com/runs/" in (steps["lost"].error or "")
    assert "az ml job stream" in (steps["lost"].error or "")
    assert steps["cancelled"].status == "failed" and steps["cancelled"].attempts == 1
    assert "was stopped (Canceled)" in (steps["cancelled"].error or "")
    assert steps["overran"].status == "timed_out"
    assert "limits.timeout of 1 s" in (steps["overran"].error or "")
    methods = {(m, p.rsplit("/", 1)[-1] == "cancel") for m, p, _ in azureml.requests}
    assert ("PUT", False) in methods and ("GET", False) in methods
    assert all(auth == "Bearer test-token" for _, _, auth in azureml.requests)
    put = next(j for j in azureml.jobs.values() if j["properties"]["tags"]["flowy:step"] == "total")
    assert put["properties"]["limits"]["timeout"] == "PT86400S"
    assert (
        put["properties"]["environmentVariables"]["FLOWY_AZURE_ACCOUNT_NAME"] == "devstoreaccount1"
    )


def test_service_errors_name_the_fix(azureml: FakeAzureML) -> None:
    from flowy_azure.azureml import AzureMLBackend
    from flowy_azure.errors import AzureError

    backend = AzureMLBackend(options(management_endpoint=azureml.url, retries=0))
    with pytest.raises(AzureError, match="not found .*resource_group and workspace") as info:
        backend.describe("no-such-job")
    assert "ResourceNotFound" in str(info.value)


def test_an_https_management_endpoint_is_required() -> None:
    from flowy.kernel.errors import ConfigError
    from flowy_azure.azureml import AzureMLBackend

    with pytest.raises(ConfigError, match="must be https"):
        AzureMLBackend(options(management_endpoint="http://example.com"), FakeCredential())
