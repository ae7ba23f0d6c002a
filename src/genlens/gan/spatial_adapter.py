"""GANs as spatial generators (:class:`~genlens.metrics.editing.SpatialGenerator`): the layout GAN (adapter ``layout-gan``),
the SEL GANs steered by their heatmaps (``heatmap-gan``, see :class:`HeatmapGanGenerator`) and a GAN that takes
neither (``free-gan``, the unconditional StyleGAN2-style baseline: it ignores the layout, so it is the sample-quality
reference and the "deaf" row of the EqGAN-SA comparison). Generators that have a distribution of their own (the SEL
and free GANs) also have ``sample_free(n, generator)``: images drawn as they were trained, for FID against real scenes.

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
from genlens.gan.spatial import CENTRES_PER_LEVEL, LEVELS, Heatmaps, canvas_to_heat, render_heatmap
from genlens.metrics.spatial_generators import SPATIAL_GENERATORS
from genlens.utils.modes import eval_mode

DEFAULT_SOURCE = "scenes-gan-layout"


@dataclass
class _ZGan:
    """A generator whose latent is z alone, on a square canvas of its resolution."""

    G: Generator
    name: str

    @property
    def canvas(self) -> int:
        return int(self.G.config.resolution)

    def latents(self, n: int, generator: torch.Generator) -> torch.Tensor:
        return torch.randn(n, self.G.config.z_dim, generator=generator)


@dataclass
class LayoutGanGenerator(_ZGan):
    class_aware: bool = True

    @torch.no_grad()
    def sample(self, latents: torch.Tensor, layouts: Sequence[Layout]) -> torch.Tensor:
        device = self.G.const.device
        channels = layout_channels(self.G.config, list(layouts)).to(device)
        with eval_mode(self.G):
            x = self.G(latents.to(device), layout=channels, noise_mode="const")
        return _unit(x)


@SPATIAL_GENERATORS.register("layout-gan", description="a layout GAN folder or shipped name (scenes-gan-layout)")
def _layout_gan(source: str | None = None, *, untrained: bool = False, seed: int = 0,
                device: str = "cpu") -> LayoutGanGenerator:
    def wrong(G: Generator) -> str | None:
        return None if G.config.use_layout else (f"is a '{G.config.arch}' GAN, not a layout GAN; pass a folder "
                                                 "trained with `genlens gan train --arch layout`")

    G, name = _load(source or DEFAULT_SOURCE, wrong, untrained=untrained, seed=seed, device=device)
    return LayoutGanGenerator(G, name)


@dataclass
class HeatmapGanGenerator:
    """A SEL generator (EqGAN-SA, SEL-only) steered through its heatmaps; its heatmaps carry no class.

    A latent is z plus the heatmaps' shape drawn as the generator was trained (:meth:`Generator.sample_heatmaps`):
    the level-2 and level-3 centres' offsets from the level-1 centre, and every sigma. The layout's first item
    places the level-1 centre and the other levels' centres move with it (offsets kept, clamped to the grid),
    so moving item 0 moves the whole heatmap, as dragging a heatmap does in the explorer; the other items are
    ignored (measure these generators on one-item layouts)."""

    G: Generator
    name: str
    class_aware: bool = False

    @property
    def canvas(self) -> int:
        return int(self.G.config.resolution)

    def latents(self, n: int, generator: torch.Generator) -> torch.Tensor:
        z = torch.randn(n, self.G.config.z_dim, generator=generator)
        heat = self.G.sample_heatmaps(n, generator=generator, device="cpu")
        offsets = [(heat.centers[lv] - heat.centers[1]).flatten(1) for lv in LEVELS[1:]]
        return torch.cat([z, *offsets, *(heat.sigmas[lv] for lv in LEVELS)], dim=1)

    def _heatmaps(self, latents: torch.Tensor, layouts: Sequence[Layout]) -> Heatmaps:
        n, size = latents.shape[0], self.canvas
        rest = latents[:, self.G.config.z_dim:]
        c1 = canvas_to_heat(torch.tensor([[lay.items[0].x, lay.items[0].y] for lay in layouts]), size)[:, None]
        centers, sigmas, at = {1: c1}, {}, 0
        for lv in LEVELS[1:]:
            k = CENTRES_PER_LEVEL[lv]
            centers[lv] = (c1 + rest[:, at:at + 2 * k].reshape(n, k, 2)).clamp(-1.0, 1.0)
            at += 2 * k
        for lv in LEVELS:
            k = CENTRES_PER_LEVEL[lv]
            sigmas[lv] = rest[:, at:at + k]
            at += k
        maps = {lv: render_heatmap(centers[lv], sigmas[lv], size) for lv in LEVELS}
        return Heatmaps(maps, centers, sigmas)

    @torch.no_grad()
    def sample(self, latents: torch.Tensor, layouts: Sequence[Layout]) -> torch.Tensor:
        device = self.G.const.device
        heat = self._heatmaps(latents, layouts).to(device)
        with eval_mode(self.G):
            x = self.G(latents[:, :self.G.config.z_dim].to(device), heat, noise_mode="const")
        return _unit(x)

    @torch.no_grad()
    def sample_free(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` images with heatmaps drawn as in training (the level-1 centre too), in [0, 1]."""
        return _free_images(self.G, n, generator, heatmaps=True)


@SPATIAL_GENERATORS.register("heatmap-gan", description="a SEL GAN (EqGAN-SA, SEL-only) steered by its heatmaps; "
                             "a folder or shipped name (scenes-eqgan)")
def _heatmap_gan(source: str | None = None, *, untrained: bool = False, seed: int = 0,
                 device: str = "cpu") -> HeatmapGanGenerator:
    def wrong(G: Generator) -> str | None:
        return None if G.config.use_sel else (f"is a '{G.config.arch}' GAN without heatmaps; pass an EqGAN-SA or "
                                              "SEL-only GAN (or use layout-gan for a layout GAN)")

    G, name = _load(source or "scenes-eqgan", wrong, untrained=untrained, seed=seed, device=device)
    return HeatmapGanGenerator(G, name)


def _load(source: str, wrong, *, untrained: bool, seed: int, device: str) -> tuple[Generator, str]:
    """The generator ``source`` names and its display name; ``wrong(G)`` says why it is the wrong kind for the
    adapter (one line after the quoted name) or None. ``untrained``: fresh weights of the same shape, the floor
    (``Generator`` draws them from the global RNG, seeded with ``seed``)."""
    from genlens.errors import GenlensError
    from genlens.gan.io import load_generator

    name = str(source)
    G = load_generator(name, device=device)
    why = wrong(G)
    if why:
        raise GenlensError(f"'{name}' {why}")
    if untrained:
        torch.manual_seed(seed)
        G = Generator(G.config).to(device).eval().requires_grad_(False)
        name += " (untrained)"
    return G, name


def _unit(x: torch.Tensor) -> torch.Tensor:
    """A generator's output in [-1, 1] as images in [0, 1] on the CPU (what every adapter returns)."""
    return ((x.clamp(-1, 1) + 1) / 2).float().cpu()


def _free_images(G: Generator, n: int, generator: torch.Generator, *, heatmaps: bool) -> torch.Tensor:
    device = G.const.device
    z = torch.randn(n, G.config.z_dim, generator=generator)
    heat = G.sample_heatmaps(n, generator=generator, device=device) if heatmaps else None
    with eval_mode(G):
        x = G(z.to(device), heat, noise_mode="const")
    return _unit(x)


@dataclass
class FreeGanGenerator(_ZGan):
    """A GAN without heatmaps or layouts (the StyleGAN2-style baseline): a latent is z and the layout is ignored,
    so a moved blob moves nothing (slope 0 by construction: the comparison's deaf row)."""

    class_aware: bool = False

    @torch.no_grad()
    def sample(self, latents: torch.Tensor, layouts: Sequence[Layout]) -> torch.Tensor:
        with eval_mode(self.G):
            x = self.G(latents.to(self.G.const.device), None, noise_mode="const")
        return _unit(x)

    @torch.no_grad()
    def sample_free(self, n: int, generator: torch.Generator) -> torch.Tensor:
        return _free_images(self.G, n, generator, heatmaps=False)


@SPATIAL_GENERATORS.register("free-gan", description="an unconditional GAN without heatmaps (the StyleGAN2-style "
                             "baseline, scenes-gan), sampled freely; it ignores layouts")
def _free_gan(source: str | None = None, *, untrained: bool = False, seed: int = 0,
              device: str = "cpu") -> FreeGanGenerator:
    def wrong(G: Generator) -> str | None:
        if not (G.config.use_sel or G.config.use_layout):
            return None
        takes, adapter = ("heatmaps", "heatmap-gan") if G.config.use_sel else ("layouts", "layout-gan")
        return f"is a '{G.config.arch}' GAN that takes {takes}; use {adapter}:{name} instead of free-gan"

    name = str(source or "scenes-gan")
    G, name = _load(name, wrong, untrained=untrained, seed=seed, device=device)
    return FreeGanGenerator(G, name)


def as_spatial_generator(G: Generator, name: str) -> LayoutGanGenerator | HeatmapGanGenerator | None:
    """The editing measurement's view of a loaded GAN: a layout GAN through its layouts, a SEL GAN (EqGAN-SA,
    SEL-only) through its heatmaps; None for a GAN that takes neither."""
    if G.config.use_layout:
        return LayoutGanGenerator(G, name)
    if G.config.use_sel:
        return HeatmapGanGenerator(G, name)
    return None
