"""A model's card: its class, framework, parameter count and (scikit-learn) settings.

The parameter count is :func:`flowy.tracking.asset_facts.parameter_count`, the
same duck-typed count a ``Model`` asset records: torch modules sum ``numel()``,
Keras answers ``count_params()``, scikit-learn estimators add up their fitted
float arrays (``coef_``, ``intercept_``, ...). Facts recorded when the model was
written (a ``Model`` asset's fields) are shown beside what the object says now.
"""

from __future__ import annotations

from typing import Any

from flowy_ui.previews.values import cell, class_name

#: Hyper-parameters shown of a scikit-learn estimator (``get_params(deep=False)``).
MAX_PARAMS = 100


def is_model(value: Any) -> bool:
    """A scikit-learn estimator, a torch module or a Keras model."""
    sklearn = callable(getattr(value, "get_params", None)) and hasattr(value, "fit")
    torch = callable(getattr(value, "parameters", None)) and hasattr(value, "state_dict")
    keras = callable(getattr(value, "count_params", None))
    return sklearn or torch or keras


def _parameter_count(value: Any) -> int | None:
    from flowy.tracking import model_parameter_count

    try:
        return model_parameter_count(value)
    except Exception:  # noqa: BLE001 - an unbuilt Keras model cannot count yet
        return None


def _sklearn(value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    try:
        params = value.get_params(deep=False)
    except Exception:  # noqa: BLE001 - a broken estimator still gets its card
        params = {}
    out["params"] = {str(k): cell(v) for k, v in list(params.items())[:MAX_PARAMS]}
    n_in = getattr(value, "n_features_in_", None)
    if n_in is not None:
        out["n_features_in"] = cell(n_in)
    classes = getattr(value, "classes_", None)
    if classes is not None and hasattr(classes, "__len__"):
        out["n_classes"] = len(classes)
    coef = getattr(value, "coef_", None)
    if coef is not None and hasattr(coef, "shape"):
        out["coef_shape"] = [int(n) for n in coef.shape]
    return out


def preview(value: Any, recorded: dict[str, Any] | None) -> dict[str, Any]:
    """kind ``model``: class, framework, parameter count, settings and recorded facts."""
    name = class_name(value)
    out: dict[str, Any] = {
        "kind": "model",
        "class_name": name,
        "framework": name.split(".", 1)[0],
        "parameter_count": _parameter_count(value),
    }
    if callable(getattr(value, "get_params", None)):
        out.update(_sklearn(value))
    if recorded:
        out["facts"] = {str(k): cell(v) for k, v in recorded.items() if not isinstance(v, dict)}
        if out["parameter_count"] is None and isinstance(recorded.get("parameter_count"), int):
            out["parameter_count"] = recorded["parameter_count"]
    return out
