"""An example Flowy pipeline: fit a line to noisy data and report how well it fits.

Run it with ``flowy run pipeline.py`` and change a parameter with
``flowy run pipeline.py --param noise=0.5``. Run it twice: the second run is
served from the cache. Edit one step and only that step and the steps after
it run again.
"""

from __future__ import annotations

import random

import flowy
from flowy import Context, Pipeline, step


@step
def generate(n_samples: int, noise: float, seed: int = 0) -> dict[str, list[float]]:
    """Points on y = 3x + 2 with Gaussian noise, and a few missing values."""
    rng = random.Random(seed)
    xs = [rng.uniform(-5, 5) for _ in range(n_samples)]
    ys: list[float | None] = [3 * x + 2 + rng.gauss(0, noise) for x in xs]
    for i in range(0, n_samples, 25):
        ys[i] = None
    print(f"generated {n_samples} points")
    return {"x": xs, "y": ys}  # type: ignore[dict-item]


@step
def clean(generate: dict[str, list[float]]) -> dict[str, list[float]]:
    """Drop the points whose y is missing."""
    pairs = [(x, y) for x, y in zip(generate["x"], generate["y"], strict=True) if y is not None]
    print(f"kept {len(pairs)} of {len(generate['x'])} points")
    return {"x": [p[0] for p in pairs], "y": [p[1] for p in pairs]}


@step
def train(clean: dict[str, list[float]]) -> list[float]:
    """Least squares with numpy: the slope and intercept of the best line."""
    import numpy as np

    x = np.asarray(clean["x"])
    design = np.column_stack([x, np.ones_like(x)])
    coef, *_ = np.linalg.lstsq(design, np.asarray(clean["y"]), rcond=None)
    return [float(c) for c in coef]


@step
def evaluate(train: list[float], clean: dict[str, list[float]]) -> dict[str, float]:
    """Mean squared error of the fitted line, logged as a metric."""
    slope, intercept = train
    errors = [(slope * x + intercept - y) ** 2 for x, y in zip(clean["x"], clean["y"], strict=True)]
    mse = sum(errors) / len(errors)
    flowy.log_metric("mse", mse)
    print(f"slope={slope:.3f} intercept={intercept:.3f} mse={mse:.4f}")
    return {"slope": slope, "intercept": intercept, "mse": mse}


pipeline = Pipeline(
    "example",
    steps=[generate, clean, train, evaluate],
    context=Context(n_samples=200, noise=1.0),
)
