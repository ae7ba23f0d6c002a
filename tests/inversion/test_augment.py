from __future__ import annotations

import pytest
import torch

from genlens.errors import GenlensError
from genlens.inversion.augment import (
    AUGMENTATIONS,
    ColorShift,
    Compose,
    Flip,
    Jitter,
    RandomAffine,
    Repeat,
    center_crop,
    paste_center,
    zoom,
)
from genlens.utils.seed import make_generator

RANDOM = {"jitter": {"pixels": 3}, "color_shift": {}, "flip": {}, "affine": {"degrees": 10.0}}


def batch(n: int = 3, c: int = 2, h: int = 12, w: int = 10) -> torch.Tensor:
    return torch.rand(n, c, h, w, generator=make_generator(123))


@pytest.mark.parametrize("name", AUGMENTATIONS.available())
def test_shape_preserved(name: str) -> None:
    x = batch()
    y = AUGMENTATIONS.create(name)(x, generator=make_generator(0))
    assert y.shape[1:] == x.shape[1:]
    assert y.shape[0] % x.shape[0] == 0  # Repeat tiles the batch; the rest keep it


@pytest.mark.parametrize("name", AUGMENTATIONS.available())
def test_seeded_determinism(name: str) -> None:
    t, x = AUGMENTATIONS.create(name, **RANDOM.get(name, {})), batch()
    assert torch.equal(t(x, generator=make_generator(7)), t(x, generator=make_generator(7)))


@pytest.mark.parametrize("name", sorted(RANDOM))
def test_random_transforms_depend_on_the_seed(name: str) -> None:
    t, x = AUGMENTATIONS.create(name, **RANDOM[name]), batch(n=8)
    outs = [t(x, generator=make_generator(s)) for s in range(4)]
    assert any(not torch.equal(outs[0], o) for o in outs[1:])


def test_color_shift_range_and_per_channel_per_copy() -> None:
    x = torch.full((64, 3, 4, 4), 0.5)
    y = ColorShift(mul=1.0, add=1.0)(x, generator=make_generator(0))
    lo, hi = 0.5 * torch.exp(torch.tensor(-1.0)) - 1, 0.5 * torch.exp(torch.tensor(1.0)) + 1
    assert y.min() >= lo and y.max() <= hi
    assert torch.equal(y, y[..., :1, :1].expand_as(y))  # one affine map per (row, channel)
    assert y[:, :, 0, 0].unique().numel() == 64 * 3  # independent draws per row and channel
    shifted = ColorShift(mul=0.0, add=0.25)(x, generator=make_generator(1)) - x
    assert shifted.abs().max() <= 0.25 and shifted.abs().max() > 0.2  # uses most of U(-0.25, 0.25)
    assert torch.equal(ColorShift(mul=0.0, add=0.0)(x, generator=make_generator(0)), x)


def test_jitter_is_a_bounded_roll() -> None:
    x = torch.arange(2 * 1 * 9 * 9, dtype=torch.float32).view(2, 1, 9, 9)
    t = Jitter(pixels=2)
    for seed in range(5):
        y = t(x, generator=make_generator(seed))
        rolls = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                 if torch.equal(y, torch.roll(x, (dy, dx), dims=(2, 3)))]
        assert rolls
    assert Jitter(fraction=1 / 7).limit(28, 28) == 4 and Jitter(fraction=1 / 7).limit(7, 7) == 1
    per = Jitter(pixels=3, per_sample=True)(x.repeat(8, 1, 1, 1), generator=make_generator(0))
    assert len({tuple(r.flatten()[:3].tolist()) for r in per}) > 1  # rows shifted differently


def test_repeat_is_copy_major() -> None:
    x = batch(n=3)
    y = Repeat(copies=4)(x, generator=make_generator(0))
    assert y.shape[0] == 12 and all(torch.equal(y[i], x[i % 3]) for i in range(12))
    with pytest.raises(GenlensError):
        Repeat(copies=0)


def test_flip_and_affine_limits() -> None:
    x = batch()
    assert torch.equal(Flip(p=1.0)(x, generator=make_generator(0)), x.flip(-1))
    assert torch.equal(Flip(p=0.0)(x, generator=make_generator(0)), x)
    ident = RandomAffine(degrees=0.0, scale=(1.0, 1.0), translate=0.0)(x, generator=make_generator(0))
    torch.testing.assert_close(ident, x, atol=1e-5, rtol=0)


def test_compose_applies_in_order_from_one_generator() -> None:
    x = batch()
    chain = Compose([Jitter(pixels=2), Repeat(copies=2), ColorShift()])
    g1, g2 = make_generator(3), make_generator(3)
    manual = ColorShift()(Repeat(copies=2)(Jitter(pixels=2)(x, generator=g2), generator=g2), generator=g2)
    assert torch.equal(chain(x, generator=g1), manual) and len(chain) == 3


def test_paste_center_zoom_and_crop() -> None:
    inner, canvas = torch.ones(1, 1, 2, 2), torch.zeros(1, 1, 6, 6)
    out = paste_center(inner, canvas)
    assert out.sum() == 4 and torch.equal(out[..., 2:4, 2:4], inner) and canvas.sum() == 0
    assert torch.equal(center_crop(out, 2), inner)
    assert zoom(inner, (4, 4)).shape[-2:] == (4, 4) and zoom(inner, 2) is inner
    with pytest.raises(GenlensError):
        paste_center(canvas, inner)
