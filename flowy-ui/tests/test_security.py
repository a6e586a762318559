"""Tokens, roles, read-only, the audit log, host and origin checks, and traversal attempts."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import httpx
import pytest
from flowy_ui.tokens import TokenStore

MARKER = "flowy-ui-secret-marker-7f3a"


@pytest.fixture(scope="module")
def tokens(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    tmp = tmp_path_factory.mktemp("tokens")
    store = TokenStore(tmp / "tokens.json")
    made = {role: store.create(f"{role}-bob", role)[1] for role in ("viewer", "editor", "admin")}
    made["doomed"] = store.create("doomed", "admin")[1]
    return tmp, made


@pytest.fixture(scope="module")
def secured(ui_server, tokens):
    tmp, _ = tokens
    with ui_server(tmp) as (url, _app):
        yield url


def _get(url: str, path: str, token: str | None = None, **kw) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(url + path, headers={**headers, **kw.pop("headers", {})}, timeout=30, **kw)


def _post(url: str, path: str, token: str | None, body: object = None, **kw) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    headers.update(kw.pop("headers", {}))
    return httpx.post(url + path, json=body, headers=headers, timeout=30, **kw)


def _audit(tmp: Path) -> list[dict]:
    path = tmp / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_tokens_file_is_private_and_holds_no_token(tokens) -> None:
    tmp, made = tokens
    path = tmp / "tokens.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    for token in made.values():
        secret = token[len("flowy_") + 13 :]
        assert len(secret) >= 40 and token not in text and secret not in text
    assert not [p for p in tmp.iterdir() if p.name.startswith(".tokens.json")]  # no debris


def test_every_api_route_needs_a_valid_token(secured, tokens) -> None:
    _, made = tokens
    for path in ["/api/v1/runs", "/api/v1/openapi.json", "/api/v1/models", "/api/v1/nothing"]:
        missing = _get(secured, path)
        assert missing.status_code == 401, path
        assert missing.json()["error"]["code"] == "unauthorized"
        assert "flowy ui token create" in missing.json()["error"]["message"]
        assert missing.headers["www-authenticate"] == "Bearer"
        for wrong in [
            "nonsense",
            made["viewer"][:-2] + "xx",
            made["viewer"].replace("flowy_", "flowy_zzzzzzzzzzzz_", 1),
        ]:
            assert _get(secured, path, wrong).status_code == 401, (path, wrong)
        basic = _get(secured, path, headers={"Authorization": "Basic " + made["admin"]})
        assert basic.status_code == 401
    assert _get(secured, "/api/v1/runs", made["viewer"]).status_code == 200
    assert _get(secured, "/healthz").json()["auth"] is True  # health needs no token


def test_revoked_token_is_refused_at_once(secured, tokens) -> None:
    tmp, made = tokens
    assert _get(secured, "/api/v1/runs", made["doomed"]).status_code == 200
    TokenStore(tmp / "tokens.json").revoke("doomed")
    assert _get(secured, "/api/v1/runs", made["doomed"]).status_code == 401
    assert _get(secured, "/api/v1/runs", made["viewer"]).status_code == 200


def test_roles_promote_rollback_and_audit(secured, tokens, filled) -> None:
    tmp, made = tokens
    refused = _post(secured, "/api/v1/models/clf/promote", made["viewer"],
                    {"version": 2, "stage": "production"})  # fmt: skip
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert "editor" in refused.json()["error"]["message"]
    assert _audit(tmp)[-1]["outcome"] == "refused"
    assert _audit(tmp)[-1]["token"] == "viewer-bob"

    for version in (2, 3):
        done = _post(secured, "/api/v1/models/clf/promote", made["editor"],
                     {"version": version, "stage": "production"})  # fmt: skip
        assert done.status_code == 200, done.text
        assert done.json()["changes"][-1] == {
            **done.json()["changes"][-1], "version": version, "to_stage": "production",
            "user": "editor-bob",
        }  # fmt: skip
    line = _audit(tmp)[-1]
    assert (line["token"], line["action"], line["target"], line["outcome"]) == (
        "editor-bob", "model.promote", "clf@3", "ok",
    )  # fmt: skip
    back = _post(secured, "/api/v1/models/clf/rollback", made["editor"])
    assert back.status_code == 200, back.text
    detail = _get(secured, "/api/v1/models/clf", made["viewer"]).json()
    assert detail["stages"]["production"] == 2
    assert detail["history"][-1]["user"] == "editor-bob"
    assert _audit(tmp)[-1]["action"] == "model.rollback"

    bad = _post(secured, "/api/v1/models/clf/promote", made["editor"],
                {"version": 999, "stage": "production"})  # fmt: skip
    assert bad.status_code in (400, 404) and _audit(tmp)[-1]["outcome"] == "failed"
    for body in [{"version": 1, "stage": "Not A Stage"}, {"version": "x"}, None]:
        wrong = _post(secured, "/api/v1/models/clf/promote", made["editor"], body)
        assert wrong.status_code == 400, (body, wrong.text)

    audit = _get(secured, "/api/v1/audit", made["admin"])
    assert audit.status_code == 200 and audit.json()["items"][0]["token"] == "editor-bob"
    assert _get(secured, "/api/v1/audit", made["editor"]).status_code == 403


def test_read_only_refuses_writes(ui_server, tokens, tmp_path) -> None:
    _, made = tokens
    tokens_file = tokens[0] / "tokens.json"
    with ui_server(tmp_path, read_only=True, tokens_file=tokens_file) as (url, _):
        got = _post(url, "/api/v1/models/clf/promote", made["admin"],
                    {"version": 1, "stage": "staging"})  # fmt: skip
        assert got.status_code == 403 and got.json()["error"]["code"] == "read_only"
        assert _get(url, "/api/v1/runs", made["viewer"]).status_code == 200
        assert _get(url, "/healthz").json()["read_only"] is True
    line = _audit(tmp_path)[-1]
    assert line["outcome"] == "refused" and line["detail"]["reason"] == "read_only"
    assert line["token"] == "admin-bob"


def test_loopback_without_tokens_needs_none_but_refuses_cross_site_writes(api) -> None:
    assert api.get("/api/v1/runs").status_code == 200
    evil = api.post("/api/v1/models/clf/rollback", headers={"Origin": "https://evil.example"})
    assert evil.status_code == 403 and evil.json()["error"]["code"] == "cross_origin"
    rebound = api.get("/api/v1/runs", headers={"Host": "evil.example:8765"})
    assert rebound.status_code == 400 and rebound.json()["error"]["code"] == "bad_host"


TRAVERSALS = [
    "..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "%252e%252e%252f%252e%252e%252fetc%252fpasswd",
    "..%5c..%5c..%5cetc%5cpasswd",
    "%2Fetc%2Fpasswd",
    "%2F%2Fetc%2Fpasswd",
    "....%2F%2F....%2F%2Fetc%2Fpasswd",
    "%c0%ae%c0%ae%2f%c0%ae%c0%ae%2fetc%2fpasswd",
    "..%00",
]


def _templates(filled) -> list[str]:
    run = filled.train[0]
    return [
        "/api/v1/runs/{x}",
        "/api/v1/runs/{x}/dag",
        "/api/v1/runs/{x}/metrics",
        "/api/v1/runs/{x}/steps/data/logs",
        f"/api/v1/runs/{run}/steps/{{x}}/logs",
        "/api/v1/artifacts/{x}",
        "/api/v1/artifacts/{x}/download",
        "/api/v1/artifacts/{x}/lineage",
        "/api/v1/models/{x}",
        "/{x}",
        "/assets/{x}",
    ]


def test_traversal_never_reads_outside(api, open_server, filled, tmp_path) -> None:
    """MLflow's artifact handlers read files named by the client: CVE-2023-1177 (a
    ``../`` path through the artifact API), CVE-2023-6831 (an encoded one that passed
    its check), CVE-2024-1558 (a path through a model version's source). Here every
    route that takes an id or a name is tried with each of those shapes."""
    secret = filled.project.parent / "secret.txt"
    secret.write_text(MARKER)
    attempts = [*TRAVERSALS, str(secret).replace("/", "%2F"), "..%2Fsecret.txt",
                "..%2F..%2Fsecret.txt", "%2e%2e%2f%2e%2e%2fsecret.txt"]  # fmt: skip
    for template in _templates(filled):
        for attempt in attempts:
            path = template.format(x=attempt)
            got = httpx.get(open_server + path, timeout=30)  # sent as written, not normalised
            assert got.status_code < 500, (path, got.status_code, got.text)
            assert MARKER not in got.text and "root:x:0:0" not in got.text, path
            if template.startswith("/api/"):
                assert got.status_code in (400, 404, 405), (path, got.status_code)
    # The same as raw request targets on a socket: no client normalises the dots away.
    for raw in ["/api/v1/artifacts/../../../../etc/passwd", "/../../secret.txt",
                "/api/v1/runs/../../../secret.txt", "/assets/../../../secret.txt",
                "/%2e%2e/%2e%2e/secret.txt", "//etc/passwd"]:  # fmt: skip
        status, body = _raw_get(open_server, raw)
        assert status < 500 and MARKER not in body and "root:x:0:0" not in body, raw


def _raw_get(url: str, target: str) -> tuple[int, str]:
    import socket

    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(
            f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode()
        )
        chunks = []
        while data := sock.recv(65536):
            chunks.append(data)
    text = b"".join(chunks).decode("utf-8", "replace")
    return int(text.split(" ", 2)[1]), text


def test_symlink_planted_in_the_store_is_not_followed(api, filled, plugins) -> None:
    from flowy.tracking import Client

    with Client(stack="local", project=filled.project, plugins=plugins) as client:
        (data,) = [a for a in client.artifacts(run_id=filled.failed) if a.name == "data"]
        path = Path(client.artifact_store.local_path(data.uri))
    secret = filled.project.parent / "planted-secret.txt"
    secret.write_text(MARKER)
    original = path.with_name(path.name + ".orig")
    os.replace(path, original)
    try:
        os.symlink(secret, path)
        got = api.get(f"/api/v1/artifacts/{data.artifact_id}/download")
        assert got.status_code in (403, 404, 409), got.text
        assert MARKER not in got.text
        assert got.json()["error"]["code"] in ("unsafe_path", "not_found", "corrupted")
    finally:
        os.unlink(path)
        os.replace(original, path)
    assert api.get(f"/api/v1/artifacts/{data.artifact_id}/download").status_code == 200
