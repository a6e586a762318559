"""flowy.kernel.redact: the one masking of credentials in stack options, shown or recorded."""

from __future__ import annotations

import pytest
from flowy.kernel.redact import MASK, is_secret_name, mask, mask_text, scrub, secret_values


@pytest.mark.parametrize(
    "name",
    [
        "password",
        "db_password",
        "passwd",
        "token",
        "apiToken",
        "client_secret",
        "credentials",
        "private_key",
        "api_key",
        "account_key",
        "AccountKey",
        "sig",
        "Pwd",
        "aws_secret_access_key",
        "sas_token",
    ],
)
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name", ["url", "path", "bucket", "key_prefix", "tokenizer", "region", "keyfile", "monkey"]
)
def test_ordinary_names(name: str) -> None:
    assert not is_secret_name(name)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("postgresql://app:s3cret@db/flowy", "postgresql://app:****@db/flowy"),
        ("postgresql://app:p@ss/w0rd@db:5432/x", "postgresql://app:****@db:5432/x"),
        ("postgresql://app:{env:PW}@db/flowy", "postgresql://app:{env:PW}@db/flowy"),
        ("sqlite:////tmp/x.db?password=abc&mode=ro", "sqlite:////tmp/x.db?password=****&mode=ro"),
        ("https://a.blob/c?sv=1&sig=Zx9&se=2", "https://a.blob/c?sv=1&sig=****&se=2"),
        ("Server=db;Uid=app;Pwd=hunter2;", "Server=db;Uid=app;Pwd=****;"),
        ("host=db password=hunter2 user=app", "host=db password=**** user=app"),
        ("https://host:8080/path?page=2", "https://host:8080/path?page=2"),
        ("s3://bucket/a@b/c", "s3://bucket/a@b/c"),
        ("plain text = fine", "plain text = fine"),
    ],
)
def test_mask_text(text: str, shown: str) -> None:
    assert mask_text(text) == shown


def test_mask_walks_options_and_keeps_env_references() -> None:
    options = {
        "url": "postgresql://app:s3cret@db/flowy",
        "token": "abc",
        "api_token": "{env:API_TOKEN}",
        "nested": {"password": 1234, "region": "eu", "enabled": True},
        "keys": {"account_key": ["k1", "k2"]},
        "retries": 3,
    }
    assert mask(options) == {
        "url": "postgresql://app:****@db/flowy",
        "token": MASK,
        "api_token": "{env:API_TOKEN}",
        "nested": {"password": MASK, "region": "eu", "enabled": True},
        "keys": {"account_key": [MASK, MASK]},
        "retries": 3,
    }


def test_scrub_removes_every_literal_secret_from_a_message() -> None:
    options = {"token": "tok-123", "url": "postgresql://app:pw-456@db/x", "path": "/data"}
    secrets = secret_values(options)
    assert {"tok-123", "pw-456"} <= secrets and "/data" not in secrets
    message = "bad token tok-123 for postgresql://app:pw-456@db/x (pw-456)"
    assert scrub(message, secrets) == "bad token **** for postgresql://app:****@db/x (****)"
