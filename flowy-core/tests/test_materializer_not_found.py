"""The error for an output no materializer can store reads as whole sentences."""

from __future__ import annotations

import pytest
from flowy.artifacts.resolution import MaterializerRegistry
from flowy.kernel.errors import MaterializerNotFoundError
from flowy.kernel.plugins import create_plugin_manager


class Unstorable:
    """A type of the user's own that no materializer claims."""


def test_an_unclaimed_type_says_what_to_do_without_a_dangling_or() -> None:
    plugins = create_plugin_manager(entrypoints=False)
    with pytest.raises(MaterializerNotFoundError) as caught:
        MaterializerRegistry(plugins.registry).resolve(Unstorable())
    message = " ".join(str(caught.value).split())
    assert "no installed materializer handles it. Register a materializer for it" in message
    assert ". Or register" not in message
    assert "`@step(allow_pickle=True)`" in message
