"""Entry-point module of flowy-serve (group ``flowy``).

Imports only ``flowy``: FastAPI, uvicorn and the ML frameworks are loaded when a
command runs. The commands join the built-in ``flowy model`` group: a command
registered as ``"model serve"`` is a subcommand of ``flowy model`` (see
flowy_cli/models.py). The built-in predictors are registered through the same
``flowy_register_predictors`` hook a third-party plugin implements.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowy import hookimpl

if TYPE_CHECKING:
    from flowy.kernel.registry import Register, RegisterCommand


@hookimpl
def flowy_register_commands(register: RegisterCommand) -> None:
    register("model serve", "flowy_serve.cli:serve", help="Serve a model version over HTTP.")
    register(
        "model predict",
        "flowy_serve.cli:predict",
        help="Predict a file in batches, recorded as a run.",
    )
    register(
        "model package",
        "flowy_serve.cli:package",
        help="Write a container build context that serves a model version.",
    )


@hookimpl
def flowy_register_predictors(register: Register) -> None:
    register(
        "sklearn",
        "flowy_serve.predictors:SklearnPredictor",
        types=["sklearn.base.BaseEstimator"],
        description="scikit-learn estimators and pipelines: predict, predict_proba.",
    )
    register(
        "torch",
        "flowy_serve.predictors:TorchPredictor",
        types=["torch.nn.modules.module.Module"],
        description="PyTorch modules: forward under no_grad, in batches.",
    )
    register(
        "keras",
        "flowy_serve.predictors:KerasPredictor",
        types=["keras.src.models.model.Model", "keras.src.layers.layer.Layer"],
        description="Keras models: predict_on_batch, in batches.",
    )
