"""The layout diffusion model as a :class:`~genlens.metrics.editing.SpatialGenerator` (adapter
``layout-diffusion``).

``layout-diffusion:SOURCE`` loads a layout-conditional model folder or shipped name (default
``scenes-ddpm-layout``) with its recommended sampling settings, except that the sampler is forced to DDIM
(eta = 0, Song et al. 2021): deterministic given x_T, so a latent (x_T itself) and a layout fix the image,
and the measurement's before/after pair shares its noise exactly. ``untrained=True`` gives a denoiser of the
same configuration with fresh weights (the floor).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch

from genlens.data.layout import Layout
from genlens.metrics.spatial_generators import SPATIAL_GENERATORS

DEFAULT_SOURCE = "scenes-ddpm-layout"


@dataclass
class LayoutDiffusionGenerator:
    pipe: Any  # genlens.diffusion.pipeline.DiffusionPipeline
    name: str
    class_aware: bool = True

    @property
    def canvas(self) -> int:
        cfg = self.pipe.model.config
        return int(cfg.sample_size - 2 * cfg.pad)

    def latents(self, n: int, generator: torch.Generator) -> torch.Tensor:
        cfg = self.pipe.model.config
        return torch.randn(n, cfg.in_channels, cfg.sample_size, cfg.sample_size, generator=generator)

    @torch.no_grad()
    def sample(self, latents: torch.Tensor, layouts: Sequence[Layout]) -> torch.Tensor:
        cond = self.pipe.layout_condition(list(layouts))
        return self.pipe.sample(cond, noise=latents).float().cpu()


@SPATIAL_GENERATORS.register("layout-diffusion", description="a layout diffusion folder or shipped name "
                             "(scenes-ddpm-layout), sampled with DDIM")
def _layout_diffusion(source: str | None = None, *, untrained: bool = False, seed: int = 0,
                      device: str = "cpu") -> LayoutDiffusionGenerator:
    from genlens.diffusion.pipeline import DiffusionPipeline
    from genlens.errors import GenlensError

    pipe = DiffusionPipeline.from_folder(source or DEFAULT_SOURCE, device=device)
    if pipe.cond_kind != "layout":
        raise GenlensError(f"'{source or DEFAULT_SOURCE}' is {pipe.cond_kind}-conditional, not a layout model; pass "
                           "a folder trained with `genlens diffusion train --cond layout`")
    pipe = pipe.with_config(sampler="ddim", eta=0.0)
    name = str(source or DEFAULT_SOURCE)
    if untrained:
        torch.manual_seed(seed)  # fresh weights of the same shape: the floor
        fresh = type(pipe.model)(pipe.model.config).to(device).eval()
        pipe = DiffusionPipeline.from_model(fresh, schedule=pipe.schedule, class_names=pipe.class_names,
                                            config=replace(pipe.config, guide_model=None))
        name += " (untrained)"
    return LayoutDiffusionGenerator(pipe, name)
