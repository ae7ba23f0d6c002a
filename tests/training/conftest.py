"""Tiny models and data shared by the training tests."""
from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
from torch import nn

from genlens.training import EMA, cosine_with_warmup


@dataclass
class Parts:
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    ema: EMA


class Tiny:
    """An MLP with dropout and batch norm, Adam, cosine warm-up, EMA, and random regression data."""

    total_steps = 20

    @staticmethod
    def parts(seed: int = 0) -> Parts:
        torch.manual_seed(seed)
        model = nn.Sequential(
            nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 2)
        )
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        sched = cosine_with_warmup(opt, total_steps=Tiny.total_steps, warmup_steps=3)
        return Parts(model, opt, sched, EMA(model, decay=0.95))

    @staticmethod
    def data(n: int = 48) -> tuple[torch.Tensor, torch.Tensor]:
        g = torch.Generator().manual_seed(7)
        return torch.randn(n, 6, generator=g), torch.randn(n, 2, generator=g)

    @staticmethod
    def loss(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x, y = batch
        return nn.functional.mse_loss(model(x), y)

    @staticmethod
    def assert_same_state(a: dict, b: dict, atol: float = 0.0) -> None:
        assert a.keys() == b.keys()
        for key, value in a.items():
            torch.testing.assert_close(value, b[key], rtol=0, atol=atol, msg=key)


@pytest.fixture(scope="session")
def tiny() -> type[Tiny]:
    return Tiny

