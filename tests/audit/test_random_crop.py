"""The sweep's random-resized crop: identity at strength 0, seeded, and a zoom-in at high strength."""
from __future__ import annotations

import torch

from genlens.models.zoo.augment import random_crop


def test_strength_zero_is_identity_and_draws_nothing():
    x = torch.rand(4, 1, 28, 28)
    g = torch.Generator().manual_seed(0)
    assert random_crop(x, 0.0, g) is x
    assert torch.equal(torch.rand(1, generator=g), torch.rand(1, generator=torch.Generator().manual_seed(0)))


def test_seeded_and_zooms_in():
    x = torch.zeros(8, 1, 28, 28)
    x[:, :, 13:15, 13:15] = 1.0  # a centred 2x2 dot
    a = random_crop(x, 0.9, torch.Generator().manual_seed(1))
    b = random_crop(x, 0.9, torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    assert a.shape == x.shape
    # a crop keeps at least 10 % of the area, so content is magnified: the dot covers more pixels (or left the crop)
    assert ((a > 0.05).flatten(1).sum(1) >= 4).sum() >= 1
