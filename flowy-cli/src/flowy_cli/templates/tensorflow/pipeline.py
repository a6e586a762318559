"""A TensorFlow/Keras project: generate data, train a small model, evaluate it.

Run it with ``flowy run pipeline.py``; try ``--param epochs=20``. Tensors are
stored as ``.npy`` and the model in Keras' native ``.keras`` format, loaded
back with ``safe_mode=True`` (no Lambda-layer bytecode is ever run).
"""

from __future__ import annotations

from typing import Any

import flowy
from flowy import Context, Pipeline, step


@step(outputs=["features", "labels"])
def generate(n_samples: int, seed: int) -> tuple[Any, Any]:
    """Two Gaussian blobs: features and 0/1 labels, as tf tensors."""
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, size=n_samples)
    features = rng.normal(size=(n_samples, 2)) + labels[:, None] * 2.0
    return tf.constant(features, dtype=tf.float32), tf.constant(labels, dtype=tf.float32)


@step
def train(features: Any, labels: Any, epochs: int, seed: int) -> Any:
    """A small dense classifier."""
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [keras.Input((2,)), keras.layers.Dense(8, activation="relu"),
         keras.layers.Dense(1, activation="sigmoid")]
    )  # fmt: skip
    optimizer = keras.optimizers.Adam(learning_rate=0.05)
    model.compile(optimizer=optimizer, loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(features, labels, epochs=epochs, batch_size=32, verbose=0)
    for epoch, loss in enumerate(history.history["loss"]):
        flowy.log_metric("train_loss", float(loss), step=epoch)
    return model


@step
def evaluate(train: Any, features: Any, labels: Any) -> dict[str, float]:
    """Accuracy of the loaded model, logged as a metric."""
    loss, accuracy = train.evaluate(features, labels, verbose=0)
    flowy.log_metric("accuracy", float(accuracy))
    print(f"accuracy={accuracy:.3f}")
    return {"loss": float(loss), "accuracy": float(accuracy)}


pipeline = Pipeline(
    "tensorflow-example",
    steps=[generate, train, evaluate],
    context=Context(n_samples=1000, seed=0, epochs=10),
)
