"""Tiny GANs and random 32x32 'images' for the GAN tests."""
from __future__ import annotations

import pytest
import torch

from genlens.gan import GanTrainConfig


@pytest.fixture(scope="session")
def images() -> torch.Tensor:
    g = torch.Generator().manual_seed(3)
    return torch.rand(32, 1, 32, 32, generator=g) * 2 - 1


def _tiny_train(steps: int = 20, **kw) -> GanTrainConfig:
    return GanTrainConfig(total_steps=steps, batch_size=4, device="cpu", r1_every=2, **kw)


@pytest.fixture
def tiny_train():
    """``tiny_train(steps, **fields)`` -> a CPU GanTrainConfig with batch 4 and R1 every 2 steps."""
    return _tiny_train


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny GAN steps are overhead-bound: one intra-op thread is faster on a busy 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
