"""Tiny models for the inversion tests, and one thread per test: on 2 shared cores torch's default
2 threads contend with the other workers and run tiny convolutions ~20x slower."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from torch import nn

from genlens.models.handle import ModelHandle


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def make_handle(model: nn.Module, *, size: int = 16, classes: int = 4, name: str = "toy") -> ModelHandle:
    model.eval()
    return ModelHandle(model=model, name=name, mean=(0.5,), std=(0.25,), input_size=(1, size, size),
                       class_names=tuple(f"class {i}" for i in range(classes)))


@pytest.fixture
def handle_factory():
    """``handle_factory(model, size=16, classes=4)`` -> a ModelHandle (mean 0.5, std 0.25)."""
    return make_handle


@pytest.fixture
def toy_bn() -> ModelHandle:
    """conv -> BN -> ReLU -> conv -> BN -> ReLU -> pool -> linear, 1x16x16, 4 classes."""
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
        nn.Conv2d(4, 6, 3, padding=1, stride=2), nn.BatchNorm2d(6), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 4),
    )
    return make_handle(model)


@pytest.fixture
def toy_nobn() -> ModelHandle:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(4, 4))
    return make_handle(model, name="toy-nobn")


@pytest.fixture
def tiny_vit() -> ModelHandle:
    from timm.models.vision_transformer import VisionTransformer

    torch.manual_seed(0)
    model = VisionTransformer(img_size=16, patch_size=4, in_chans=1, num_classes=3, embed_dim=16, depth=2,
                              num_heads=2, mlp_ratio=2.0)
    return make_handle(model, classes=3, name="tiny-vit")


@pytest.fixture(scope="session")
def fmnist_cnn() -> ModelHandle:
    import genlens

    return genlens.load_model("fmnist-cnn")
