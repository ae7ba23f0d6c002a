"""Batched, on-device training augmentation for 28 px images: random translation and flips.

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
                    generator: torch.Generator) -> torch.Tensor:
    """uint8 ``images[idx]`` as floats in [0, 1], shifted, then (if ``hflip``) flipped, in that RNG order."""
    x = random_shift(images[idx].float().div_(255.0), max_shift, generator)
    return random_hflip(x, generator) if hflip else x


def random_hflip(x: torch.Tensor, generator: torch.Generator, p: float = 0.5) -> torch.Tensor:
    flip = torch.rand(x.shape[0], generator=generator, device=generator.device).to(x.device) < p
    return torch.where(flip[:, None, None, None], x.flip(-1), x)
