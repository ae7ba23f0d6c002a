"""Backdoor triggers as a (mask, pattern) pair: a triggered image is ``(1 - m) * x + m * p``.

The same form is what Neural Cleanse (Wang et al. 2019, IEEE S&P, eq. 2) reverse-engineers, so a planted
trigger and a recovered one can be compared directly.

- ``patch`` (BadNets, Gu et al. 2017): a ``size`` x ``size`` black-and-white checkerboard in the bottom-right
  corner, 1 px from the border; the mask is 1 on the square and 0 elsewhere.
- ``blend`` (Chen et al. 2017, arXiv 1712.05526): a fixed uniform-noise image (drawn from ``seed``) blended over
  the whole image with opacity ``alpha``; the mask is ``alpha`` everywhere.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from genlens.errors import GenlensError

TRIGGERS = ("patch", "blend")


@dataclass(frozen=True)
class Trigger:
    kind: str = "patch"  # patch | blend
    size: int = 4  # patch side in pixels
    alpha: float = 0.15  # blend opacity
    seed: int = 0  # draws the blend pattern

    def __post_init__(self) -> None:
        if self.kind not in TRIGGERS:
            raise GenlensError(f"unknown trigger '{self.kind}'; choose one of: {', '.join(TRIGGERS)}")
        if self.kind == "patch" and self.size < 1:
            raise GenlensError(f"trigger size must be at least 1 pixel, got {self.size}; pass --trigger-size 4")
        if self.kind == "blend" and not 0.0 < self.alpha < 1.0:
            raise GenlensError(f"blend opacity must be in (0, 1), got {self.alpha}; pass --alpha 0.15")

    def check_fits(self, image_shape: tuple[int, int, int]) -> None:
        """One-line error when a patch is larger than the image."""
        _, h, w = image_shape
        if self.kind == "patch" and self.size > min(h, w):
            raise GenlensError(f"trigger size {self.size} px is larger than the {h}x{w} image; "
                               f"pass --trigger-size between 1 and {min(h, w)}")

    def mask_pattern(self, image_shape: tuple[int, int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        """(mask (1, H, W), pattern (C, H, W)), both in [0, 1]."""
        self.check_fits(image_shape)
        c, h, w = image_shape
        mask = torch.zeros(1, h, w)
        pattern = torch.zeros(c, h, w)
        if self.kind == "patch":
            s = self.size
            top, left = h - s - min(1, h - s), w - s - min(1, w - s)
            mask[:, top : top + s, left : left + s] = 1.0
            ii, jj = torch.meshgrid(torch.arange(s), torch.arange(s), indexing="ij")
            pattern[:, top : top + s, left : left + s] = ((ii + jj) % 2 == 0).float()
        else:
            gen = torch.Generator().manual_seed(self.seed)
            mask.fill_(self.alpha)
            pattern = torch.rand(c, h, w, generator=gen)
        return mask, pattern

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        mask, pattern = self.mask_pattern(tuple(x.shape[1:]))
        return apply_trigger(x, mask.to(x.device, x.dtype), pattern.to(x.device, x.dtype))


def apply_trigger(x: torch.Tensor, mask: torch.Tensor, pattern: torch.Tensor) -> torch.Tensor:
    """(1 - m) * x + m * p for images x (B, C, H, W) in [0, 1]; m broadcasts over channels."""
    return (1.0 - mask) * x + mask * pattern
