"""The layout GAN as a :class:`~genlens.metrics.editing.SpatialGenerator` (adapter ``layout-gan``).

``layout-gan:SOURCE`` loads a layout GAN folder or shipped name (default ``scenes-gan-layout``); with
``untrained=True`` it builds a generator of the same configuration with fresh weights (the floor). A latent is
z (B, z_dim); the per-pixel noise is fixed (``noise_mode="const"``), so an image depends only on its latent and
its layout, and the measurement's before/after pair differs only where the layout was edited.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from genlens.data.layout import Layout
from genlens.gan.layout import layout_channels
from genlens.gan.networks import Generator
from genlens.metrics.spatial_generators import SPATIAL_GENERATORS
from genlens.utils.modes import eval_mode

DEFAULT_SOURCE = "scenes-gan-layout"


@dataclass
class LayoutGanGenerator:
    G: Generator
    name: str
    class_aware: bool = True

    @property
    def canvas(self) -> int:
        return int(self.G.config.resolution)

    def latents(self, n: int, generator: torch.Generator) -> torch.Tensor:
        return torch.randn(n, self.G.config.z_dim, generator=generator)

    @torch.no_grad()
    def sample(self, latents: torch.Tensor, layouts: Sequence[Layout]) -> torch.Tensor:
        device = self.G.const.device
        channels = layout_channels(self.G.config, list(layouts)).to(device)
        with eval_mode(self.G):
            x = self.G(latents.to(device), layout=channels, noise_mode="const")
        return ((x.clamp(-1, 1) + 1) / 2).float().cpu()


@SPATIAL_GENERATORS.register("layout-gan", description="a layout GAN folder or shipped name (scenes-gan-layout)")
def _layout_gan(source: str | None = None, *, untrained: bool = False, seed: int = 0,
                device: str = "cpu") -> LayoutGanGenerator:
    from genlens.errors import GenlensError
    from genlens.gan.io import load_generator

    G = load_generator(source or DEFAULT_SOURCE, device=device)
    if not G.config.use_layout:
        raise GenlensError(f"'{source or DEFAULT_SOURCE}' is a '{G.config.arch}' GAN, not a layout GAN; "
                           "pass a folder trained with `genlens gan train --arch layout`")
    name = str(source or DEFAULT_SOURCE)
    if untrained:
        torch.manual_seed(seed)  # fresh weights of the same shape: the floor (Generator draws from the global RNG)
        G = Generator(G.config).to(device).eval().requires_grad_(False)
        name += " (untrained)"
    return LayoutGanGenerator(G, name)
