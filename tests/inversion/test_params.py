from __future__ import annotations

import pytest
import torch

from genlens.errors import GenlensError
from genlens.inversion.augment import center_crop
from genlens.inversion.params import PARAMETERISATIONS, FourierParam, NoiseInit, PixelParam, gaussian_blur
from genlens.utils.seed import make_generator


def make(kind: str, seed: int = 0, size: int = 8):
    return PARAMETERISATIONS.create(kind, batch=2, channels=1, size=size, generator=make_generator(seed))


@pytest.mark.parametrize("kind", PARAMETERISATIONS.available())
def test_images_in_unit_range_and_shape(kind: str) -> None:
    p = make(kind)
    img = p.image()
    assert img.shape == (2, 1, 8, 8) and img.min() >= 0 and img.max() <= 1
    assert all(t.requires_grad for t in p.parameters())
    img.sum().backward()  # differentiable with respect to the parameters
    assert all(t.grad is not None for t in p.parameters())


@pytest.mark.parametrize("kind", PARAMETERISATIONS.available())
def test_seeded_init_and_growth(kind: str) -> None:
    a, b = make(kind, seed=1), make(kind, seed=1)
    assert torch.equal(a.image(), b.image())
    a.grow(12, generator=make_generator(5), margin=4)
    b.grow(12, generator=make_generator(5), margin=4)
    assert a.size == (12, 12) and torch.allclose(a.image(), b.image())
    assert a.image().min() >= 0 and a.image().max() <= 1


def test_uniform_init_is_u01_and_clamp_after_step() -> None:
    p = make("pixels", size=32)
    x = p.image()
    assert 0.45 < x.mean() < 0.55 and x.min() < 0.05 and x.max() > 0.95
    with torch.no_grad():
        p.pixels.add_(2.0)
    p.post_step()
    assert p.image().max() == 1.0


def test_grow_pastes_the_old_image_in_the_centre_with_fresh_noise() -> None:
    p = make("pixels")
    old = p.image().detach().clone()
    p.grow(14, generator=make_generator(9), margin=6)  # 8 px kept as is, 3 px of noise on each side
    new = p.image().detach()
    assert new.shape[-2:] == (14, 14)
    assert torch.equal(center_crop(new, 8), old)
    ring = new.clone()
    ring[..., 3:11, 3:11] = float("nan")
    noise = ring[~ring.isnan()]
    assert noise.numel() == 2 * (14 * 14 - 64) and 0.3 < noise.mean() < 0.7 and noise.std() > 0.2


def test_grow_with_upsampling_and_pure_zoom() -> None:
    p = make("pixels", size=4)
    with torch.no_grad():
        p.pixels.fill_(0.25)
    p.grow(10, generator=make_generator(0), margin=2)  # old 4x4 upsampled to 8x8 in a 10x10 canvas
    assert torch.allclose(center_crop(p.image(), 8), torch.full((2, 1, 8, 8), 0.25))
    p.grow(20, generator=make_generator(0), margin=0)  # pure zoom: no noise
    assert p.size == (20, 20)
    with pytest.raises(GenlensError):
        p.grow(20, generator=make_generator(0), margin=20)


def test_normal_init_per_channel_and_blur_keeps_range() -> None:
    init = NoiseInit(kind="normal", center=(0.2, 0.8), scale=(0.0, 0.0))
    p = PixelParam(batch=1, channels=2, size=4, generator=make_generator(0), init=init)
    assert torch.allclose(p.image()[0, :, 0, 0], torch.tensor([0.2, 0.8]))
    x = torch.rand(1, 1, 9, 9, generator=make_generator(0))
    y = gaussian_blur(x, 1.0)
    assert y.shape == x.shape and y.min() >= x.min() and y.max() <= x.max() and y.std() < x.std()


def test_fourier_round_trip() -> None:
    p = FourierParam(batch=1, channels=1, size=6, generator=make_generator(0), init=NoiseInit(center=0.5, scale=0.8))
    before = p.image().detach().clone()
    p._set_state(before)
    torch.testing.assert_close(p.image(), before, atol=1e-4, rtol=0)
