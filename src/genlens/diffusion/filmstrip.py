"""A denoising filmstrip: x_t and the model's current guess of x_0 at several steps of one sampling run.

The guess is x̂_0 = (x_t − √(1−ᾱ_t) · ε̂) / √ᾱ_t, eq. 4 of Ho et al. 2020 (arXiv 2006.11239) solved for
x_0 (DDIM, Song et al. 2021, eq. 12 calls it the "predicted x_0"). It shows what the model believes the
image is long before the noise has gone: coarse shape first, then detail.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from genlens.diffusion.config import NoiseSchedule, SamplingConfig
from genlens.diffusion.sample import num_steps, sample, sampling_config
from genlens.errors import GenlensError


@dataclass
class Filmstrip:
    timesteps: list[int]  # t of each frame (the input of that step)
    x_t: torch.Tensor  # (K, B, 1, 28, 28) in [0, 1]
    x0: torch.Tensor  # (K, B, 1, 28, 28) predicted x_0 in [0, 1]
    images: torch.Tensor  # (B, 1, 28, 28) the finished samples

    def rows(self) -> torch.Tensor:
        """(B·2·(K+1), 1, 28, 28) for a grid with ``nrow=K+1``: per sample a row of x_t and a row of x̂_0,
        each ending with the finished image."""
        b = self.x_t.shape[1]
        out = []
        for i in range(b):
            out += [*self.x_t[:, i], self.images[i], *self.x0[:, i], self.images[i]]
        return torch.stack(out)


def denoising_filmstrip(model: nn.Module, cond: Any, config: SamplingConfig | None = None, *, frames: int = 6,
                        schedule: NoiseSchedule | None = None, generator: torch.Generator | None = None,
                        **settings: Any) -> Filmstrip:
    """Run :func:`~genlens.diffusion.sample.sample` on ``cond`` (labels (B,) or (tokens, mask)) with ``config``
    (``settings``: fields of it to replace) and keep ``frames`` evenly spaced steps, read from its callback."""
    if frames < 2:
        raise GenlensError(f"a filmstrip needs at least 2 frames, got {frames}")
    config = sampling_config(config, **settings)
    total = min(num_steps(config), (schedule or NoiseSchedule()).num_train_timesteps)
    keep = set(torch.linspace(1, total, min(frames, total)).round().long().tolist())
    seen: list[dict[str, Any]] = []

    def collect(info: dict[str, Any]) -> None:
        if info["step"] in keep:
            seen.append({k: info[k] for k in ("timestep", "x_t", "x0")})

    images = sample(model, cond, config, schedule=schedule, generator=generator, callback=collect)
    return Filmstrip([s["timestep"] for s in seen], torch.stack([s["x_t"].cpu() for s in seen]),
                     torch.stack([s["x0"].cpu() for s in seen]), images.cpu())
