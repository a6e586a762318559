"""Entry-point module of flowy-gcp (group ``flowy``).

Imports only ``flowy`` and the standard library and registers dotted paths,
so listing plugins or running ``flowy --help`` never imports gcsfs,
google-auth or aiohttp; they load when a stack resolves the ``gcs`` store or
the ``vertex`` executor, or when ``flowy gcp`` runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowy import hookimpl

if TYPE_CHECKING:
    from flowy.kernel.registry import Register, RegisterCommand, RegisterStack

#: The predefined stack's components. Options the user must give (bucket, project,
#: region, image) are left out so ``required_options`` reports them clearly.
GCP_STACK = {
    "executor": {"type": "vertex"},
    "artifact_store": {"type": "gcs"},
    "metadata_store": {"type": "sql", "url": "sqlite:///{project}/.flowy/metadata.db"},
}
GCP_REQUIRED = {"artifact_store": ["bucket"], "executor": ["project", "region", "image"]}


@hookimpl
def flowy_register_artifact_stores(register: Register) -> None:
    register(
        "gcs",
        "flowy_gcp.gcs_store:GcsArtifactStore",
        description="Artifacts as Cloud Storage objects: atomic uploads, bounded retries.",
    )


@hookimpl
def flowy_register_executors(register: Register) -> None:
    register(
        "vertex",
        "flowy_gcp.vertex:VertexExecutor",
        description="Each step a Vertex AI custom job in your image (mode=local: a subprocess).",
    )


@hookimpl
def flowy_register_stacks(register: RegisterStack) -> None:
    register(
        "gcp",
        GCP_STACK,
        description=(
            "Steps as Vertex AI custom jobs, artifacts in Cloud Storage, metadata in a SQL "
            "database (SQLite in .flowy/ by default; set the url to PostgreSQL to share it)."
        ),
        required_options=GCP_REQUIRED,
    )


@hookimpl
def flowy_register_commands(register: RegisterCommand) -> None:
    register(
        "gcp",
        "flowy_gcp.cli:gcp",
        help="Check Google Cloud credentials, the bucket and the Vertex AI region.",
    )
