"""On-device training augmentation: shapes kept, content preserved, seeded determinism."""
from __future__ import annotations

import pytest
import torch

from genlens.models.zoo.augment import random_hflip, random_shift


def _images(b: int = 16) -> torch.Tensor:
    x = torch.zeros(b, 1, 28, 28)
    x[:, :, 2:-2, 2:-2] = torch.rand(b, 1, 24, 24, generator=torch.Generator().manual_seed(0))
    return x  # a zero border of 2 px, so a shift of up to 2 px loses nothing


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_shift_keeps_shape_and_content():
    x = _images()
    y = random_shift(x, 2, _gen(0))
    assert y.shape == x.shape
    torch.testing.assert_close(y.sum((1, 2, 3)), x.sum((1, 2, 3)))
    for i in range(len(x)):  # each image is a pure translation within +-2 px
        found = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                 if torch.equal(torch.roll(x[i], (dy, dx), (1, 2)), y[i])]
        assert len(found) == 1


def test_shift_is_seeded_and_varies():
    x = _images()
    a, b, c = random_shift(x, 2, _gen(1)), random_shift(x, 2, _gen(1)), random_shift(x, 2, _gen(2))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert not torch.equal(a, x)


def test_zero_shift_is_identity():
    x = _images(3)
    assert random_shift(x, 0, _gen(0)) is x


@pytest.mark.parametrize("channels", [1, 3])
def test_shift_multichannel(channels):
    x = torch.rand(4, channels, 10, 12)
    assert random_shift(x, 3, _gen(0)).shape == x.shape


def test_hflip_keeps_shape_and_is_seeded():
    x = torch.rand(32, 1, 28, 28)
    a, b = random_hflip(x, _gen(5)), random_hflip(x, _gen(5))
    assert a.shape == x.shape and torch.equal(a, b)
    flipped = [torch.equal(a[i], x[i].flip(-1)) for i in range(len(x))]
    kept = [torch.equal(a[i], x[i]) for i in range(len(x))]
    assert all(f or k for f, k in zip(flipped, kept))
    assert 0 < sum(flipped) < len(x)


@pytest.mark.parametrize(("p", "expect_flip"), [(0.0, False), (1.0, True)])
def test_hflip_probability_extremes(p, expect_flip):
    x = torch.rand(8, 1, 5, 5)
    y = random_hflip(x, _gen(0), p=p)
    assert torch.equal(y, x.flip(-1) if expect_flip else x)
