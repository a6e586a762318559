"""Quickstart: fit a linear model to synthetic data and report how well it does.

Run it with ``flowy run examples/quickstart/pipeline.py`` (parameters with
``--param noise=0.5``). Every output is stored as an artifact, every step is
recorded, and a second run is served from the cache.
"""

from __future__ import annotations

import flowy
import numpy as np
from flowy import Context, Pipeline, step


@step(outputs=["features", "target"])
def make_data(n_samples: int, n_features: int, noise: float, seed: int):
    """Synthetic regression data with known true weights."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n_samples, n_features))
    true_weights = np.arange(1, n_features + 1, dtype=float)
    target = features @ true_weights + rng.normal(scale=noise, size=n_samples)
    return features, target


@step(outputs=["train_x", "train_y", "test_x", "test_y"])
def split(features: np.ndarray, target: np.ndarray, test_fraction: float = 0.25):
    """Hold out the last rows for evaluation."""
    cut = int(len(features) * (1 - test_fraction))
    return features[:cut], target[:cut], features[cut:], target[cut:]


@step(retries=1)
def fit(train_x: np.ndarray, train_y: np.ndarray) -> np.ndarray:
    """Least-squares weights (with an intercept column)."""
    design = np.column_stack([train_x, np.ones(len(train_x))])
    weights, *_ = np.linalg.lstsq(design, train_y, rcond=None)
    return weights


@step
def evaluate(fit: np.ndarray, test_x: np.ndarray, test_y: np.ndarray) -> dict:
    """R² and RMSE on the held-out rows, logged as metrics."""
    predictions = np.column_stack([test_x, np.ones(len(test_x))]) @ fit
    residual = test_y - predictions
    rmse = float(np.sqrt(np.mean(residual**2)))
    r2 = float(1 - residual.var() / test_y.var())
    flowy.log_metric("rmse", rmse)
    flowy.log_metric("r2", r2)
    print(f"R² = {r2:.4f}, RMSE = {rmse:.4f}")
    return {"r2": r2, "rmse": rmse, "weights": [round(float(w), 3) for w in fit]}


pipeline = Pipeline(
    "quickstart",
    [make_data, split, fit, evaluate],
    context=Context(n_samples=2_000, n_features=4, noise=0.3, seed=42),
)
