"""The one place that decides what of a stack's options may be shown or recorded.

Stack options are shown by `flowy stack describe` and `stack export`, and
recorded with every run (``RunRecord.stack``, printed by `flowy runs show`).
All of them go through :func:`mask`, so a credential written into a stack
file never reaches a terminal, a JSON document or the metadata store:

* an option whose *name* looks secret (``password``, ``api_token``,
  ``client_secret``, ``account_key``, ``credentials``, ...) shows ``****``;
* inside any string value, the password of a URL (``scheme://user:pw@host``)
  and the value of a secret-looking query or key=value parameter
  (``?password=``, ``&sig=``, ``;Pwd=``, ``token=``) show ``****``.

An ``{env:NAME}`` reference is not a secret (it names where the secret is),
so it stays visible wherever it stands; only values written literally are
hidden. The component itself still receives the real value: masking applies
to what is shown or recorded, never to what is constructed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

#: What a hidden value is shown as.
MASK = "****"

#: Words that make a name secret wherever they stand in it.
_SECRET_WORDS = frozenset(
    {
        "secret",
        "secrets",
        "password",
        "passwd",
        "passphrase",
        "pwd",
        "token",
        "tokens",
        "credential",
        "credentials",
        "creds",
        "apikey",
        "private",
        "privatekey",
        "accesskey",
        "secretkey",
        "sas",
        "cookie",
        "accesstoken",
        "authtoken",
        "apitoken",
    }
)
#: Words that make a name secret only as its last word (``api_key``, not ``key_prefix``).
_SECRET_LAST_WORDS = frozenset({"key", "sig", "signature", "auth", "authorization", "pass"})

_WORD_SPLIT = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])")
_ENV_ONLY = re.compile(r"(\{env:[A-Za-z_][A-Za-z0-9_]*\})+")
#: ``scheme://userinfo@`` up to the last ``@`` before the query: a password may hold ``/`` or ``@``.
_URL_USERINFO = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/?#@\s]*:)(?P<pw>[^?#\s]*)@")
#: ``name=value`` after ``?``, ``&``, ``;``, whitespace or the start of the string.
_PARAM = re.compile(r"(?P<head>(?:^|(?<=[?&;\s]))(?P<name>[A-Za-z0-9_.\-]+)=)(?P<value>[^&;#\s]*)")


def is_secret_name(name: str) -> bool:
    """Whether an option or parameter called ``name`` holds a credential."""
    words = [w.lower() for w in _WORD_SPLIT.split(name) if w]
    if not words:
        return False
    joined = "".join(words)
    return (
        any(w in _SECRET_WORDS for w in words)
        or words[-1] in _SECRET_LAST_WORDS
        or any(s in joined for s in ("password", "secret", "credential", "apikey"))
    )


def _hide(value: str, keep_env: bool = True) -> str:
    """``value`` itself when it is only ``{env:NAME}`` references, else the mask."""
    return value if not value or (keep_env and _ENV_ONLY.fullmatch(value)) else MASK


def mask_text(text: str, *, keep_env: bool = True) -> str:
    """``text`` with URL passwords and secret-named parameters hidden.

    ``keep_env=False`` hides ``{env:NAME}`` references in those places too:
    comparing both tells whether a value reads a credential from the environment.
    """

    def userinfo(match: re.Match[str]) -> str:
        # The greedy match ends at the last '@' before the query: a raw password may hold '@'.
        return f"{match.group('head')}{_hide(match.group('pw'), keep_env)}@"

    def param(match: re.Match[str]) -> str:
        if not is_secret_name(match.group("name")):
            return match.group(0)
        return f"{match.group('head')}{_hide(match.group('value'), keep_env)}"

    if "://" in text:
        text = _URL_USERINFO.sub(userinfo, text)
    if "=" in text:
        text = _PARAM.sub(param, text)
    return text


def _hidden_parts(text: str) -> list[str]:
    """The literal pieces of ``text`` that :func:`mask_text` hides."""
    parts = []
    if "://" in text:
        parts += [m.group("pw") for m in _URL_USERINFO.finditer(text)]
    if "=" in text:
        parts += [
            m.group("value") for m in _PARAM.finditer(text) if is_secret_name(m.group("name"))
        ]
    return [p for p in parts if p and _hide(p) == MASK]


def mask(value: Any, key: str = "") -> Any:
    """``value`` as it may be shown or recorded (see the module docstring).

    ``key`` is the option's name; mappings are masked key by key, lists item
    by item under their own key.
    """
    if isinstance(value, dict):
        return {k: mask(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask(v, key) for v in value]
    if is_secret_name(key) and value is not None and not isinstance(value, bool):
        return _hide(value) if isinstance(value, str) else MASK
    if isinstance(value, str):
        return mask_text(value)
    return value


def secret_values(value: Any, key: str = "") -> set[str]:
    """Every literal string :func:`mask` would hide, to scrub it from error messages."""
    found: set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            found |= secret_values(v, str(k))
    elif isinstance(value, (list, tuple)):
        for v in value:
            found |= secret_values(v, key)
    elif isinstance(value, str) and value:
        if is_secret_name(key):
            found.add(value)
        else:
            found.update(_hidden_parts(value))
    elif is_secret_name(key) and value is not None and not isinstance(value, bool):
        found.add(str(value))
    return found


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of ``secrets`` (longest first) replaced by the mask."""
    for secret in sorted((s for s in secrets if len(s) >= 3), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return mask_text(text)
