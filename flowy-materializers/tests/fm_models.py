"""Small importable models for round-trip tests (torch, keras)."""

from __future__ import annotations

import torch
from flowy_materializers.torch_materializer import record_init_args


@record_init_args
class TinyNet(torch.nn.Module):
    """Linear, batch norm (buffers), linear: enough to catch a missed tensor."""

    def __init__(self, n_in: int, hidden: int = 8) -> None:
        super().__init__()
        self.l1 = torch.nn.Linear(n_in, hidden)
        self.bn = torch.nn.BatchNorm1d(hidden)
        self.l2 = torch.nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.l2(torch.relu(self.bn(self.l1(x))))


class ExplicitArgs(torch.nn.Module):
    """Records its constructor arguments by hand."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.flowy_init_args = {"width": width}
        self.lin = torch.nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(x)


class NoDefaults(torch.nn.Module):
    """Needs an argument and does not record it: refused on save."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(width, 1)


class Defaults(torch.nn.Module):
    """Constructible with no arguments: nothing needs recording."""

    def __init__(self, width: int = 3) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(width, 1)
