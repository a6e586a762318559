"""References in stack option values: ``{project}``, ``{home}`` and ``{env:NAME}``.

:func:`substitute` expands all three where a stack is resolved.
:func:`portable_options` keeps secrets read from the environment as
references in the options sent to workers, and :func:`expand_env` resolves
them on the worker, so a credential's value is never copied into a task.
Which options count as secrets is decided by :mod:`flowy.kernel.redact`, the same
rule that masks what is shown.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flowy.kernel.config import user_home
from flowy.kernel.errors import ConfigError
from flowy.kernel.redact import is_secret_name, mask_text

_REF = re.compile(r"\{(project|home|env:[A-Za-z_][A-Za-z0-9_]*)\}")
_ENV_REF = re.compile(r"\{env:([A-Za-z_][A-Za-z0-9_]*)\}")


def substitute(value: Any, project: Path, where: str) -> Any:
    """Expand {project}, {home} and {env:NAME} in option values."""
    if isinstance(value, str):

        def repl(match: re.Match[str]) -> str:
            ref = match.group(1)
            if ref == "project":
                return str(project)
            if ref == "home":
                return str(user_home())
            var = ref[4:]
            if var not in os.environ:
                raise ConfigError(
                    f"{where} references the environment variable {var}, which is not set. "
                    f"Set it (export {var}=...) or change the stack."
                )
            return os.environ[var]

        return _REF.sub(repl, value)
    if isinstance(value, list):
        return [substitute(v, project, where) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, project, where) for k, v in value.items()}
    return value


def portable_options(
    raw: Mapping[str, Any], resolved: Mapping[str, Any], project: Path
) -> dict[str, Any]:
    """``resolved``, except that secrets read from the environment stay references.

    Options travel to workers inside every task: to pool processes, to Dask
    workers over the network, into the step manifests SageMaker jobs read from
    S3. A value under a secret-looking key (password, token, ...) that came
    from ``{env:NAME}``, or a URL whose password did, is sent as written, and
    each worker resolves it from its own environment (:func:`expand_env`), so
    the secret itself is never copied anywhere.
    """
    out = dict(resolved)
    for key, value in raw.items():
        if key not in out:
            continue
        if isinstance(value, Mapping) and isinstance(out[key], Mapping):
            out[key] = portable_options(value, out[key], project)
        elif (
            isinstance(value, str)
            and _ENV_REF.search(value)
            and (is_secret_name(key) or mask_text(value, keep_env=False) != value)
        ):

            def keep_env(match: re.Match[str]) -> str:
                ref = match.group(1)
                if ref == "project":
                    return str(project)
                return str(user_home()) if ref == "home" else match.group(0)

            out[key] = _REF.sub(keep_env, value)
    return out


def expand_env(value: Any, where: str) -> Any:
    """Resolve the ``{env:NAME}`` references left in options a worker received."""
    if isinstance(value, str):

        def repl(match: re.Match[str]) -> str:
            var = match.group(1)
            if var not in os.environ:
                raise ConfigError(
                    f"{where} reads the environment variable {var}, which is not set on this "
                    "worker. Secrets travel to workers as references, never as values: set "
                    f"{var} in the worker's environment (or give the worker its own "
                    "credentials, such as a SageMaker job's IAM role, and leave the option out)."
                )
            return os.environ[var]

        return _ENV_REF.sub(repl, value)
    if isinstance(value, list):
        return [expand_env(v, where) for v in value]
    if isinstance(value, dict):
        return {k: expand_env(v, f"{where} option {k!r}") for k, v in value.items()}
    return value
