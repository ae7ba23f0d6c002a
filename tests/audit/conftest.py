"""A tiny CNN handle and small real Fashion-MNIST splits for the audit tests (CPU, seconds)."""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from genlens.data.fashion_mnist import CLASS_NAMES
from genlens.models.handle import ModelHandle


def tiny_handle(seed: int = 0) -> ModelHandle:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Conv2d(1, 16, 3, stride=2, padding=1), nn.ReLU(),
                          nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),
                          nn.Flatten(), nn.Linear(32 * 7 * 7, 10))
    return ModelHandle(model=model.eval(), name="tiny", mean=(0.286,), std=(0.353,), input_size=(1, 28, 28),
                       class_names=CLASS_NAMES, arch="cnn")


@pytest.fixture
def make_tiny():
    return tiny_handle


@pytest.fixture(scope="session")
def small_splits(fmnist_test):
    """(train, test): 3000 and 1000 images of the real test split, disjoint."""
    return fmnist_test.subset(torch.arange(3000)), fmnist_test.subset(torch.arange(3000, 4000))


@pytest.fixture(scope="session")
def planted_tiny(small_splits):
    """A tiny CNN trained from scratch on data where 10 % of each batch carries a patch trigger -> class 3."""
    from genlens.audit.plant import PlantConfig, plant_backdoor
    from genlens.audit.triggers import Trigger

    train, test = small_splits
    config = PlantConfig(target=3, trigger=Trigger("patch", size=4), rate=0.1, epochs=4, n_images=0, batch_size=64,
                         lr=3e-3, seed=0)
    return plant_backdoor(tiny_handle(), train, test, config)
