"""Tiny handles for metric tests: no shipped weights, milliseconds on CPU."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from genlens.models.handle import ModelHandle

CLASSES = tuple("abcdefghij")


class TinyCNN(nn.Module):
    """timm-style: forward_features -> (B, 8, 7, 7), forward_head(pre_logits=True) -> (B, 16)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.AvgPool2d(4)
        )
        self.pre = nn.Linear(8 * 7 * 7, 16)
        self.head = nn.Linear(16, len(CLASSES))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)

    def forward_head(self, f: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        f = torch.tanh(self.pre(f.flatten(1)))
        return f if pre_logits else self.head(f)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


class PixelReader(nn.Module):
    """Logits = the first ten pixels of the normalised image: outputs are set by the test's images."""

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)[:, : len(CLASSES)]

    def forward_head(self, f: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        return f

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


class GivenFeatures(nn.Module):
    """A torchmetrics ``feature=`` module that passes pre-computed features (or logits) straight through."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.num_features = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def make_handle(model: nn.Module, name: str = "tiny") -> ModelHandle:
    return ModelHandle(
        model=model, name=name, mean=(0.5,), std=(0.5,), input_size=(1, 28, 28), class_names=CLASSES
    )


@pytest.fixture
def tiny_handle() -> ModelHandle:
    torch.manual_seed(0)
    return make_handle(TinyCNN().eval())


@pytest.fixture
def pixel_handle() -> ModelHandle:
    return make_handle(PixelReader(), name="pixel")


@pytest.fixture
def given_features() -> type[GivenFeatures]:
    return GivenFeatures
