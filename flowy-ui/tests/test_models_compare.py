"""``GET /api/v1/models/{name}/compare``: two versions of the filled project's model.

The filled project trains ``clf`` once per alpha (0.0, 0.1, ...), so version 1 and
version 2 differ in ``alpha`` and ``r2`` and share the infinite ``diverged``
metric. Stages are not asserted: other tests promote versions of the same model.
(Promote and rollback by role, read-only servers and the audit log are covered in
test_security.py.)
"""

from __future__ import annotations

import json

import pytest


def test_two_versions_side_by_side(api, filled) -> None:
    got = api.get("/api/v1/models/clf/compare", params={"a": 1, "b": 2})
    assert got.status_code == 200, got.text
    body = json.loads(got.text, parse_constant=lambda c: pytest.fail(f"bare {c}"))
    assert body["name"] == "clf"
    assert (body["a"]["version"], body["b"]["version"]) == (1, 2)
    assert (body["a"]["run_id"], body["b"]["run_id"]) == (filled.train[0], filled.train[1])
    assert body["a"]["pipeline"] == "training" and body["b"]["run_status"] == "completed"
    assert {"stage", "artifact_id", "created_at", "created_by"} <= set(body["a"])
    params = {p["name"]: p for p in body["params"]}
    assert params["alpha"] == {"name": "alpha", "a": 0.0, "b": 0.1, "delta": None, "changed": True}
    assert body["params_changed"] == [p for p in params if params[p]["changed"]]
    assert "alpha" in body["params_changed"]
    metrics = {m["name"]: m for m in body["metrics"]}
    assert metrics["r2"]["changed"] is True
    assert metrics["r2"]["delta"] == pytest.approx(0.1)
    assert metrics["diverged"] == {
        "name": "diverged", "a": "Infinity", "b": "Infinity", "delta": None, "changed": False,
    }  # fmt: skip
    assert body["artifacts_same"] is False
    assert body["ancestors_a"] >= 1 and body["ancestors_b"] >= 1
    assert isinstance(body["training_data_same"], bool)


def test_a_version_compared_with_itself_has_no_differences(api) -> None:
    body = api.get("/api/v1/models/clf/compare?a=3&b=3").json()
    assert body["params_changed"] == [] and body["artifacts_same"] is True
    assert not any(m["changed"] for m in body["metrics"])
    assert body["training_data_same"] is True


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("a=1&b=999", 404),
        ("a=1", 400),
        ("a=0&b=1", 400),
        ("a=x&b=1", 400),
    ],
)
def test_bad_versions_are_4xx_naming_what_is_wrong(api, query, status) -> None:
    got = api.get(f"/api/v1/models/clf/compare?{query}")
    assert got.status_code == status, got.text
    assert got.json()["error"]["message"]


def test_an_unknown_or_traversing_model_name_is_4xx(api) -> None:
    for name in ["no-such-model", "..%2F..%2Fetc%2Fpasswd", "%252e%252e%252f", "%2Fetc%2Fpasswd"]:
        got = api.get(f"/api/v1/models/{name}/compare?a=1&b=2")
        assert got.status_code in (400, 404), (name, got.status_code, got.text)
        assert "root:x:0:0" not in got.text


def test_a_model_asset_of_plain_data_previews_as_a_model_card(api) -> None:
    """``Model({"weights": ...})``: the recorded facts, and the data it holds as JSON."""
    version = api.get("/api/v1/models/clf").json()["versions"][0]
    body = api.get(f"/api/v1/artifacts/{version['artifact_id']}/preview").json()
    assert body["kind"] == "model" and body["class_name"] == "builtins.dict"
    assert body["facts"]["architecture"] == "dict"
    assert json.loads(body["text"]) == {"weights": [0.0, 0.0, 0.0]}
    assert body["histogram"] is None and body["head"] is None  # other kinds' fields: null
