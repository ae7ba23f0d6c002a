"""Seeding helpers."""
from __future__ import annotations

import random

import numpy as np
import torch

from genlens.utils.seed import make_generator, seed_everything


def test_make_generator_is_repeatable():
    a = torch.rand(4, generator=make_generator(3))
    b = torch.rand(4, generator=make_generator(3))
    c = torch.rand(4, generator=make_generator(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_seed_everything_covers_python_numpy_torch():
    seed_everything(2**33 + 5)  # larger than NumPy's 32-bit seed range
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    seed_everything(2**33 + 5)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first
