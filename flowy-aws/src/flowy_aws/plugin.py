"""Entry-point module of flowy-aws (group ``flowy``).

Imports only ``flowy`` and the standard library and registers dotted paths,
so listing plugins or running ``flowy --help`` never imports boto3, s3fs or
aiohttp; they load when a stack resolves the ``s3`` store or the
``sagemaker`` executor, or when ``flowy aws`` runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowy import hookimpl

if TYPE_CHECKING:
    from flowy.kernel.registry import Register, RegisterCommand, RegisterStack

#: The predefined stack's components. Options the user must give (bucket,
#: role, image) are left out so ``required_options`` reports them clearly.
AWS_STACK = {
    "executor": {"type": "sagemaker"},
    "artifact_store": {"type": "s3"},
    "metadata_store": {"type": "sql", "url": "sqlite:///{project}/.flowy/metadata.db"},
}
AWS_REQUIRED = {"artifact_store": ["bucket"], "executor": ["role", "image"]}


@hookimpl
def flowy_register_artifact_stores(register: Register) -> None:
    register(
        "s3",
        "flowy_aws.s3_store:S3ArtifactStore",
        description="Artifacts as S3 objects: atomic, streamed multipart uploads, bounded retries.",
    )


@hookimpl
def flowy_register_executors(register: Register) -> None:
    register(
        "sagemaker",
        "flowy_aws.sagemaker:SageMakerExecutor",
        description="Each step a SageMaker training job in your image (mode=local: a subprocess).",
    )


@hookimpl
def flowy_register_stacks(register: RegisterStack) -> None:
    register(
        "aws",
        AWS_STACK,
        description=(
            "Steps as SageMaker jobs, artifacts in S3, metadata in a SQL database "
            "(SQLite in .flowy/ by default; set the url to PostgreSQL to share it)."
        ),
        required_options=AWS_REQUIRED,
    )


@hookimpl
def flowy_register_commands(register: RegisterCommand) -> None:
    register(
        "aws",
        "flowy_aws.cli:aws",
        help="Check AWS credentials, the bucket and the SageMaker role.",
    )
