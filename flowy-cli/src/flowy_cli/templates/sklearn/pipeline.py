"""A scikit-learn project: generate a dataset, fit a pipeline, evaluate it.

Run it with ``flowy run pipeline.py``; try ``--param n_estimators=200``. The
data is a pandas DataFrame (stored as Parquet), the model a fitted
scikit-learn Pipeline (stored with skops, loaded back with a trusted-type
list, never pickle): ``flowy artifacts show`` prints what was recorded
about each (rows and dtypes; estimator class, parameters, fitted).
"""

from __future__ import annotations

from typing import Any

import flowy
from flowy import Context, Pipeline, step


@step
def generate(n_samples: int, seed: int) -> Any:
    """A synthetic classification table with a categorical column."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n_samples), rng.normal(size=n_samples)
    region = rng.choice(["north", "south", "east"], size=n_samples)
    logit = 1.5 * x1 - x2 + (region == "north") * 0.8
    label = (logit + rng.normal(scale=0.5, size=n_samples) > 0).astype(int)
    return pd.DataFrame({"x1": x1, "x2": x2, "region": pd.Categorical(region), "label": label})


@step(outputs=["train_set", "test_set"])
def split(generate: Any, seed: int) -> tuple[Any, Any]:
    """Hold out a quarter of the rows for evaluation."""
    test = generate.sample(frac=0.25, random_state=seed)
    return generate.drop(test.index), test


@step
def train(train_set: Any, n_estimators: int, seed: int) -> Any:
    """Scale numbers, one-hot the region, fit a random forest."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import Pipeline as SkPipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    features = ColumnTransformer(
        [("num", StandardScaler(), ["x1", "x2"]), ("cat", OneHotEncoder(), ["region"])]
    )
    model = SkPipeline(
        [("features", features),
         ("forest", RandomForestClassifier(n_estimators=n_estimators, random_state=seed))]
    )  # fmt: skip
    return model.fit(train_set.drop(columns="label"), train_set["label"])


@step
def evaluate(train: Any, test_set: Any) -> dict[str, float]:
    """Accuracy on the held-out rows, logged as a metric."""
    accuracy = float(train.score(test_set.drop(columns="label"), test_set["label"]))
    flowy.log_metric("accuracy", accuracy)
    print(f"accuracy={accuracy:.3f}")
    return {"accuracy": accuracy}


pipeline = Pipeline(
    "sklearn-example",
    steps=[generate, split, train, evaluate],
    context=Context(n_samples=2000, seed=0, n_estimators=50),
)
