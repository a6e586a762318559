"""Entry-point module of flowy-azure (group ``flowy``).

Imports only ``flowy`` and the standard library and registers dotted paths,
so listing plugins or running ``flowy --help`` never imports adlfs, the
Azure SDK or aiohttp; they load when a stack resolves the ``azure_blob``
store or the ``azureml`` executor, or when ``flowy azure`` runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowy import hookimpl

if TYPE_CHECKING:
    from flowy.kernel.registry import Register, RegisterCommand, RegisterStack

#: The predefined stack's components. Options the user must give (account,
#: container, workspace...) are left out so ``required_options`` reports them clearly.
AZURE_STACK = {
    "executor": {"type": "azureml"},
    "artifact_store": {"type": "azure_blob"},
    "metadata_store": {"type": "sql", "url": "sqlite:///{project}/.flowy/metadata.db"},
}
AZURE_REQUIRED = {
    "artifact_store": ["account_name", "container"],
    "executor": [
        "subscription_id",
        "resource_group",
        "workspace",
        "compute",
        "aml_environment",
    ],
}


@hookimpl
def flowy_register_artifact_stores(register: Register) -> None:
    register(
        "azure_blob",
        "flowy_azure.blob_store:AzureBlobArtifactStore",
        description="Artifacts as Azure block blobs (adlfs): atomic, streamed, bounded retries.",
    )


@hookimpl
def flowy_register_executors(register: Register) -> None:
    register(
        "azureml",
        "flowy_azure.azureml:AzureMLExecutor",
        description="Each step an Azure ML command job on your compute (mode=local: a subprocess).",
    )


@hookimpl
def flowy_register_stacks(register: RegisterStack) -> None:
    register(
        "azure",
        AZURE_STACK,
        description=(
            "Steps as Azure ML command jobs, artifacts in Blob Storage, metadata in a SQL "
            "database (SQLite in .flowy/ by default; set the url to PostgreSQL to share it)."
        ),
        required_options=AZURE_REQUIRED,
    )


@hookimpl
def flowy_register_commands(register: RegisterCommand) -> None:
    register(
        "azure",
        "flowy_azure.cli:azure",
        help="Check Azure credentials, the container and the Azure ML workspace.",
    )
