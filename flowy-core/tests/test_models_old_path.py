"""The documented old path ``from flowy.models import load_model`` keeps working, with a warning.

``load_model`` moved to :mod:`flowy.tracking.client` (it opens a client, which the registry
module must not import) while the rest of ``flowy.models`` moved to
:mod:`flowy.tracking.models`; the one deprecated module forwards each name to where it went.
"""

from __future__ import annotations

import importlib

import pytest


def test_old_models_path_forwards_each_name_to_where_it_went() -> None:
    old = importlib.import_module("flowy.models")
    client = importlib.import_module("flowy.tracking.client")
    models = importlib.import_module("flowy.tracking.models")
    with pytest.warns(DeprecationWarning, match="import load_model from flowy.tracking.client"):
        assert old.load_model is client.load_model
    with pytest.warns(DeprecationWarning, match="import ModelRegistry from flowy.tracking.models"):
        assert old.ModelRegistry is models.ModelRegistry
    assert {"load_model", "ModelRegistry", "register_step_outputs"} <= set(dir(old))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = old.nope
