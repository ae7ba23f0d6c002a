"""Analytic generators for the editing measurement: what an ideal and a deaf generator would do.

``SpriteGenerator`` draws each layout item as a small anti-aliased square (its pixels hold the fraction of
their area the square covers, times the item's class intensity (cls + 1) / 10), so the square's
intensity-weighted centroid is exactly its centre. With ``follow=True`` the square sits on the layout's
centre (an ideal layout-conditioned generator: slope 1, R^2 1, error 0); with ``follow=False`` it sits
where the latent says, whatever the layout (slope 0). :func:`sprite_finder` is the matching exact object
finder (connected components, weighted centroid, class from the peak intensity), and
:class:`PooledPixels` a parameter-free feature extractor, so the measurement can be checked end to end
without a trained network.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from genlens.data.layout import Layout
from genlens.metrics.locator import Detection


def _coverage(lo: torch.Tensor, hi: torch.Tensor, canvas: int) -> torch.Tensor:
    """(B,) intervals [lo, hi) in pixels -> (B, canvas) fraction of each pixel [i, i + 1) they cover."""
    grid = torch.arange(canvas, dtype=torch.float64)
    return (torch.minimum(grid + 1, hi[:, None]) - torch.maximum(grid, lo[:, None])).clamp(0, 1)


@dataclasses.dataclass
class SpriteGenerator:
    """An analytic :class:`~genlens.metrics.editing.SpatialGenerator` (see the module docstring)."""

    canvas: int = 32
    side: float = 4.0  # square side in pixels
    follow: bool = True
    max_items: int = 3
    class_aware: bool = True
    name: str = ""

    def __post_init__(self) -> None:
        self.name = self.name or ("analytic-follow" if self.follow else "analytic-ignore")

    def latents(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """(n, max_items, 2) positions in [0.15, 0.85] where a deaf generator puts its items."""
        return 0.15 + 0.7 * torch.rand(n, self.max_items, 2, generator=generator, dtype=torch.float64)

    def sample(self, latents: torch.Tensor, layouts: Sequence[Layout]) -> torch.Tensor:
        out = torch.zeros(len(layouts), 1, self.canvas, self.canvas, dtype=torch.float64)
        half = self.side / 2
        for b, lay in enumerate(layouts):
            for k, it in enumerate(lay.items):
                x, y = (it.x, it.y) if self.follow else tuple(latents[b, k % self.max_items].tolist())
                cx, cy = torch.tensor([x * self.canvas]), torch.tensor([y * self.canvas])
                cov = _coverage(cy - half, cy + half, self.canvas)[0][:, None] * _coverage(
                    cx - half, cx + half, self.canvas)[0][None, :]
                out[b, 0] = torch.maximum(out[b, 0], cov * (it.cls + 1) / 10)
        return out.float()


def sprite_finder(images: torch.Tensor) -> list[list[Detection]]:
    """Objects of :class:`SpriteGenerator` images (B, 1, H, W): connected components of nonzero pixels,
    each at its intensity-weighted centroid, class from its peak intensity."""
    from scipy import ndimage

    out = []
    canvas = images.shape[-1]
    for img in images[:, 0].double():
        labels, n = ndimage.label((img > 1e-6).numpy())
        lab = torch.from_numpy(labels)
        dets = []
        for k in range(1, n + 1):
            w = img * (lab == k)
            total = float(w.sum())
            ys, xs = torch.meshgrid(torch.arange(canvas) + 0.5, torch.arange(canvas) + 0.5, indexing="ij")
            cls = round(float(w.max()) * 10) - 1
            dets.append(Detection(cls, float((w * xs).sum()) / total / canvas, float((w * ys).sum()) / total / canvas,
                                  1.0))
        out.append(dets)
    return out


class PooledPixels:
    """A parameter-free extractor: 4x4 average-pooled pixels as features (for tests and smoke runs only)."""

    name = "pooled-pixels"

    def features(self, images: torch.Tensor) -> torch.Tensor:
        x = images.float()
        return F.adaptive_avg_pool2d(x, 4).flatten(1)
