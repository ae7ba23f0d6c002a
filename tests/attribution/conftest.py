"""Tiny models for Grad-CAM tests, plus the shipped handles loaded once per session."""
from __future__ import annotations

import pytest
import torch
from torch import nn


class SmallCNN(nn.Module):
    """conv-BN-ReLU -> conv-ReLU (the CAM layer, (B, 8, 7, 7)) -> global average pool -> linear."""

    def __init__(self, classes: int = 5) -> None:
        super().__init__()
        self.block1 = nn.Sequential(nn.Conv2d(1, 6, 3, stride=2, padding=1), nn.BatchNorm2d(6), nn.ReLU())
        self.block2 = nn.Sequential(nn.Conv2d(6, 8, 3, stride=2, padding=1), nn.ReLU())
        self.head = nn.Linear(8, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 1, 28, 28) -> (B, classes)
        return self.head(self.block2(self.block1(x)).mean(dim=(2, 3)))


@pytest.fixture
def small_cnn() -> SmallCNN:
    torch.manual_seed(0)
    net = SmallCNN().eval()
    with torch.no_grad():  # non-trivial BN statistics
        net.block1[1].running_mean.uniform_(-0.2, 0.2)
        net.block1[1].running_var.uniform_(0.5, 1.5)
    return net


@pytest.fixture
def small_cnn_cls() -> type[SmallCNN]:
    return SmallCNN


@pytest.fixture
def images() -> torch.Tensor:
    return torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(1))


def _load(name: str):
    from genlens.models.load import load_model

    return load_model(name, device="cpu")


@pytest.fixture(scope="session")
def cnn_handle():
    return _load("fmnist-cnn")


@pytest.fixture(scope="session")
def vit_handle():
    return _load("fmnist-vit")


@pytest.fixture(scope="session")
def mixer_handle():
    return _load("fmnist-mixer")
