"""A PyTorch project: generate data, train a small network, evaluate it.

Run it with ``flowy run pipeline.py``; try ``--param epochs=50``. Tensors are
stored as safetensors and the trained network as its state_dict plus its
class and constructor arguments, never with ``torch.save`` (pickle).
"""

from __future__ import annotations

from typing import Any

import flowy
import torch
from flowy import Context, Pipeline, step


class Regressor(torch.nn.Module):
    """A two-layer MLP. ``flowy_init_args`` lets Flowy rebuild it when loading."""

    def __init__(self, n_features: int, hidden: int = 16) -> None:
        super().__init__()
        self.flowy_init_args = {"n_features": n_features, "hidden": hidden}
        self.net = torch.nn.Sequential(
            torch.nn.Linear(n_features, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1)
        )

    def forward(self, x: torch.Tensor) -> Any:
        return self.net(x)


@step
def generate(n_samples: int, seed: int) -> dict[str, torch.Tensor]:
    """y = x . w + noise, as a dict of tensors (stored as one safetensors file)."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n_samples, 4, generator=gen)
    w = torch.tensor([[1.5], [-2.0], [0.5], [0.0]])
    y = x @ w + 0.1 * torch.randn(n_samples, 1, generator=gen)
    return {"x": x, "y": y}


@step
def train(generate: dict[str, torch.Tensor], epochs: int, hidden: int, seed: int) -> Any:
    """Full-batch Adam on mean squared error."""
    torch.manual_seed(seed)
    model = Regressor(generate["x"].shape[1], hidden=hidden)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for epoch in range(epochs):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(generate["x"]), generate["y"])
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
        flowy.log_metric("train_loss", float(loss), step=epoch)
    return model.eval()


@step
def evaluate(train: Any, generate: dict[str, torch.Tensor]) -> dict[str, float]:
    """Mean squared error of the loaded model, logged as a metric."""
    with torch.no_grad():
        mse = float(torch.nn.functional.mse_loss(train(generate["x"]), generate["y"]))
    flowy.log_metric("mse", mse)
    print(f"mse={mse:.4f}")
    return {"mse": mse}


pipeline = Pipeline(
    "pytorch-example",
    steps=[generate, train, evaluate],
    context=Context(n_samples=512, seed=0, epochs=30, hidden=16),
)
