"""Batched, on-device training augmentation for 28 px images: random translation, flips and crops.

Everything is tensor indexing driven by one ``torch.Generator``, so a seed fixes the whole run and the
same code runs on CPU and GPU without DataLoader workers.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def random_shift(x: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Translate each image by an integer offset in [-max_shift, max_shift]^2, filling with zeros."""
    if max_shift <= 0:
        return x
    b, _, h, w = x.shape
    s = max_shift
    xp = F.pad(x, (s, s, s, s))
    off = torch.randint(0, 2 * s + 1, (2, b), generator=generator, device=generator.device).to(x.device)
    rows = torch.arange(h, device=x.device)[None, :] + off[0][:, None]  # (B, H)
    cols = torch.arange(w, device=x.device)[None, :] + off[1][:, None]  # (B, W)
    bi = torch.arange(b, device=x.device)[:, None, None]
    # (B, H, W, C) after advanced indexing on dims 0, 2, 3; move channels back.
    return xp.permute(0, 2, 3, 1)[bi, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


def augmented_batch(images: torch.Tensor, idx: torch.Tensor, *, max_shift: int, hflip: bool,
                    generator: torch.Generator, crop: float = 0.0) -> torch.Tensor:
    """uint8 ``images[idx]`` as floats in [0, 1], cropped (if ``crop`` > 0, no RNG draws otherwise), shifted,
    then (if ``hflip``) flipped, in that RNG order."""
    x = images[idx].float().div_(255.0)
    x = random_crop(x, crop, generator) if crop else x
    x = random_shift(x, max_shift, generator)
    return random_hflip(x, generator) if hflip else x


def random_hflip(x: torch.Tensor, generator: torch.Generator, p: float = 0.5) -> torch.Tensor:
    flip = torch.rand(x.shape[0], generator=generator, device=generator.device).to(x.device) < p
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


def random_crop(x: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
    """Random-resized crop of strength s: each image keeps a square of area fraction U(1 - s, 1) at a uniform
    position, resized back to the full size (bilinear). s = 0 is the identity; used by ``genlens audit sweep``
    (Balestriero, Bottou & LeCun 2022, arXiv 2204.03632, measure per class what such crops cost)."""
    if strength <= 0:
        return x
    b = x.shape[0]
    u = torch.rand(3, b, generator=generator, device=generator.device).to(x.device, x.dtype)
    side = (1.0 - strength * u[0]).sqrt()  # side of the kept square, as a fraction of the image
    theta = torch.zeros(b, 2, 3, device=x.device, dtype=x.dtype)
    theta[:, 0, 0] = side
    theta[:, 1, 1] = side
    theta[:, 0, 2] = (1.0 - side) * (2.0 * u[1] - 1.0)  # centre offset in [-(1 - side), 1 - side]
    theta[:, 1, 2] = (1.0 - side) * (2.0 * u[2] - 1.0)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
