"""Exceptions Flowy raises.

Every error a user can cause derives from :class:`FlowyError`, so the CLI can
print it as one paragraph without a traceback (unless ``--debug``) and exit
non-zero. Messages say what is wrong, where, and what to do.
"""

from __future__ import annotations


class FlowyError(Exception):
    """A user-facing error: the message is complete and actionable on its own."""

    exit_code = 1


class PipelineDefinitionError(FlowyError):
    """A pipeline cannot be built: cycle, duplicate output, missing input or parameter."""


class StepDefinitionError(FlowyError):
    """A ``@step`` was declared with options that cannot work."""


class ParameterError(FlowyError):
    """A run was given a parameter the pipeline does not know, or a bad value."""


class ConfigError(FlowyError):
    """A configuration or stack file is invalid; the message names file and field."""


class ComponentNotFoundError(FlowyError):
    """A stack names an implementation that no installed plugin provides."""


class PluginLoadError(FlowyError):
    """A plugin failed to import or to register; carries the plugin and its cause."""


class MaterializerNotFoundError(FlowyError):
    """No materializer handles an object's type."""


class UnsafeArtifactError(FlowyError):
    """Loading or writing an artifact needs a pickle opt-in that was not given."""


class ChecksumMismatchError(FlowyError):
    """An artifact's bytes do not match the checksum recorded when it was written."""


class ArtifactNotFoundError(FlowyError):
    """An artifact URI or id does not exist in the store."""


class RunNotFoundError(FlowyError):
    """A run id does not exist in the metadata store."""


class StepTimeoutError(Exception):
    """Raised inside the worker protocol when a step overran its timeout."""


class ModelNotFoundError(FlowyError):
    """A registered model name, version or stage does not exist in the model registry."""


class ArtifactPathError(FlowyError, ValueError):
    """An artifact URI or key leads outside its store (``..``, another folder, a symbolic
    link pointing out of the root): refused before anything is read or written."""
