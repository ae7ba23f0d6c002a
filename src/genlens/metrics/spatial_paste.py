"""A generator that obeys layouts perfectly with real garments: the ceiling of the editing measurement.

``ItemPaster`` renders a layout the way fashion-scenes renders its scenes (:mod:`genlens.data.scene_render`):
for each item, a Fashion-MNIST test item of the layout's class (chosen by the latent) is cropped, rescaled
so its longest side is the item's size, and pasted (brightest wins) with its box centre on the layout
centre, rounded to the pixel grid (so placement is exact to 0.5 px). Measured with the locator, it shows
what a perfect layout-conditioned generator can score: the locator's own errors and the pixel grid are
all that remain. With ``follow=False`` the items go where the latent says, whatever the layout (its floor).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import torch

import genlens.data.scene_render as R
from genlens.data.base import ImageData
from genlens.data.layout import Layout, default_size
from genlens.errors import GenlensError


@dataclasses.dataclass
class ItemPaster:
    """A :class:`~genlens.metrics.editing.SpatialGenerator` pasting real items (module docstring)."""

    items: ImageData  # uint8 (M, 1, 28, 28) Fashion-MNIST items with labels
    canvas: int = 32
    follow: bool = True
    max_items: int = 3
    class_aware: bool = True
    name: str = ""

    def __post_init__(self) -> None:
        self.name = self.name or ("paste-follow" if self.follow else "paste-ignore")
        labels = self.items.labels
        self._pools = [(labels == c).nonzero().squeeze(1) for c in range(self.items.num_classes)]
        self._crops = R.crop_boxes(self.items.images[:, 0])

    def latents(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """(n, max_items, 3): which item of its class to paste, and where a deaf generator puts it (x, y)."""
        u = torch.rand(n, self.max_items, 3, generator=generator, dtype=torch.float64)
        u[..., 1:] = 0.2 + 0.6 * u[..., 1:]
        return u

    def sample(self, latents: torch.Tensor, layouts: Sequence[Layout]) -> torch.Tensor:
        src, sizes, centres, owner = [], [], [], []
        for b, lay in enumerate(layouts):
            if len(lay) > self.max_items:
                raise GenlensError(f"layout {b} has {len(lay)} items; this generator takes at most {self.max_items}")
            for k, it in enumerate(lay.items):
                pool = self._pools[it.cls]
                src.append(int(pool[min(len(pool) - 1, int(latents[b, k, 0] * len(pool)))]))
                sizes.append(it.size if it.size is not None else default_size(len(lay)))
                xy = (it.x, it.y) if self.follow else tuple(latents[b, k, 1:].tolist())
                centres.append([xy[0] * self.canvas, xy[1] * self.canvas])
                owner.append(b)
        out = torch.zeros(len(layouts), 1, self.canvas, self.canvas, dtype=torch.uint8)
        if not src:
            return out.float()
        idx = torch.tensor(src)
        crops = self._crops[idx]
        h, w = R.target_shapes(crops, torch.tensor(sizes, dtype=torch.float32), self.canvas)
        patch = int(max(h.max(), w.max()))
        patches = R.render_patches(self.items.images[idx, 0], crops, h, w, patch)
        rel = R.mask_boxes(patches > 0).float()  # (M, 4) the drawn pixels' box inside the patch
        mid = torch.stack([(rel[:, 0] + rel[:, 2]) / 2, (rel[:, 1] + rel[:, 3]) / 2], 1)
        offsets = (torch.tensor(centres) - mid).round().long()  # box centre on the layout centre
        layers = R.paste(patches, offsets, self.canvas)  # (M, C, C)
        for m, b in enumerate(owner):
            out[b, 0] = torch.maximum(out[b, 0], layers[m])
        return out.float() / 255.0
