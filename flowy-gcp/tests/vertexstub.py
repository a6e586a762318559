"""A stand-in for the Vertex AI REST API (v1 customJobs), to run the vertex executor's remote mode.

No Vertex AI emulator exists. Like the flowy-aws tests that play SageMaker's
part behind moto, this server plays the service: ``create`` records the
request and runs the job's own container command (``command`` + ``args``
with its ``env``) as a local process; ``get`` reports its state; ``cancel``
kills it. ``script[step]`` (by the ``flowy-step`` label) overrides the
outcome per attempt: ``"fail"``, ``"deadline"`` (error code 4, as for
``scheduling.timeout``), ``"cancelled"``, ``"hang"`` or ``"refuse"`` (403,
API not enabled). It checks the bearer token a real client would send.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN = "stub-access-token"


class VertexStub:
    def __init__(self) -> None:
        self.jobs: dict[str, dict[str, Any]] = {}
        self.requests: list[dict[str, Any]] = []
        self.cancelled: list[str] = []
        self.script: dict[str, list[str]] = {}
        self.attempts: dict[str, int] = {}
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _authorized(self) -> bool:
                if self.headers.get("Authorization") == f"Bearer {TOKEN}":
                    return True
                self._answer(401, {"error": {"code": 401, "message": "no valid token"}})
                return False

            def do_GET(self) -> None:
                if not self._authorized():
                    return
                name = self.path.removeprefix("/v1/")
                job = stub.jobs.get(name)
                if job is None:
                    self._answer(404, {"error": {"code": 404, "message": f"{name} not found"}})
                    return
                self._answer(200, stub.resource(job))

            def do_POST(self) -> None:
                if not self._authorized():
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                path = self.path.removeprefix("/v1/")
                if path.endswith(":cancel"):
                    stub.cancel(path.removesuffix(":cancel"))
                    self._answer(200, {})
                    return
                match = re.fullmatch(r"projects/([^/]+)/locations/([^/]+)/customJobs", path)
                if match is None:
                    self._answer(404, {"error": {"code": 404, "message": "no such method"}})
                    return
                status, answer = stub.create(path, body)
                self._answer(status, answer)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def create(self, parent: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        step = body["labels"]["flowy-step"]
        with self.lock:
            self.requests.append(body)
            n = self.attempts.get(step, 0)
            self.attempts[step] = n + 1
            ident = str(1000 + len(self.requests))
        plan = self.script.get(step, ["run"])
        outcome = plan[min(n, len(plan) - 1)]
        if outcome == "refuse":
            message = "Vertex AI API has not been used in project 123 before or it is disabled."
            return 403, {"error": {"code": 403, "message": message, "status": "PERMISSION_DENIED"}}
        name = f"{parent}/{ident}"
        job: dict[str, Any] = {"name": name, "body": body, "outcome": outcome}
        if outcome == "run":
            container = body["jobSpec"]["workerPoolSpecs"][0]["containerSpec"]
            env = {e["name"]: e["value"] for e in container["env"]}
            job["proc"] = subprocess.Popen(
                [*container["command"], *container["args"]],
                env={**os.environ, **env},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.jobs[name] = job
        return 200, self.resource(job)

    def resource(self, job: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"name": job["name"], "displayName": job["body"]["displayName"]}
        outcome = job["outcome"]
        if outcome == "fail":
            out["state"] = "JOB_STATE_FAILED"
            out["error"] = {"code": 3, "message": "The replica workerpool0-0 ran out of memory."}
        elif outcome == "deadline":
            out["state"] = "JOB_STATE_FAILED"
            out["error"] = {"code": 4, "message": "Job exceeded its scheduling timeout."}
        elif outcome in ("cancelled", "killed"):
            out["state"] = "JOB_STATE_CANCELLED"
        elif outcome == "hang":
            out["state"] = "JOB_STATE_RUNNING"
        else:
            code = job["proc"].poll()
            out["state"] = {None: "JOB_STATE_RUNNING", 0: "JOB_STATE_SUCCEEDED"}.get(
                code, "JOB_STATE_FAILED"
            )
            if code not in (None, 0):
                out["error"] = {"code": 13, "message": f"The replica exited with code {code}."}
        return out

    def cancel(self, name: str) -> None:
        self.cancelled.append(name)
        job = self.jobs[name]
        job["outcome"] = "killed"
        if "proc" in job:
            job["proc"].kill()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        for job in self.jobs.values():
            if "proc" in job and job["proc"].poll() is None:
                job["proc"].kill()
                job["proc"].wait()
