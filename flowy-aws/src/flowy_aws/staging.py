"""The step-manifest protocol, as flowy-aws used to define it here.

The protocol (manifest, shipped code, result under the executor's staging
prefix) is shared by every cloud's job executor and lives in
:mod:`flowy.remote_jobs`; these names stay importable from here.
"""

from __future__ import annotations

from flowy.remote_jobs import (
    MANIFEST_VERSION,
    attempt_folder,
    fetch_code,
    module_source,
    read_manifest,
    read_result,
    ship_code,
    write_manifest,
    write_result,
)

__all__ = [
    "MANIFEST_VERSION",
    "attempt_folder",
    "fetch_code",
    "module_source",
    "read_manifest",
    "read_result",
    "ship_code",
    "write_manifest",
    "write_result",
]
