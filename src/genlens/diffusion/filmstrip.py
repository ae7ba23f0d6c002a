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

from genlens.diffusion.guidance import GuidedDenoiser, check_interval
from genlens.diffusion.sample import SAMPLERS, step_kwargs
from genlens.diffusion.schedule import NoiseSchedule
from genlens.diffusion.spacing import TimestepSpacing, set_spaced_timesteps
from genlens.diffusion.unet import from_model_space
from genlens.errors import GenlensError
from genlens.utils.modes import eval_mode


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


@torch.no_grad()
def denoising_filmstrip(
    model: nn.Module,
    cond: Any,
    *,
    sampler: str = "ddim",
    steps: int = 20,
    guidance: float | None = 3.0,
    frames: int = 6,
    schedule: NoiseSchedule | None = None,
    generator: torch.Generator | None = None,
    guidance_interval: tuple[int, int] | None = None,
    spacing: TimestepSpacing | str | None = None,
) -> Filmstrip:
    """Run the sampler on ``cond`` (labels (B,) or (tokens, mask)) and keep ``frames`` evenly spaced steps
    (``guidance_interval`` and ``spacing`` as in :func:`genlens.diffusion.sample.sample`)."""
    if frames < 2:
        raise GenlensError(f"a filmstrip needs at least 2 frames, got {frames}")
    schedule = schedule or NoiseSchedule()
    scheduler = SAMPLERS.create(sampler, schedule=schedule)
    extra = step_kwargs(sampler)
    guided = GuidedDenoiser(model, guidance, check_interval(guidance_interval, schedule.num_train_timesteps))
    device = next(model.parameters()).device
    b = cond.shape[0] if isinstance(cond, torch.Tensor) else cond[0].shape[0]
    size = model.config.sample_size
    x = torch.randn(b, model.config.in_channels, size, size, generator=generator,
                    device=generator.device if generator is not None else device).to(device)
    set_spaced_timesteps(scheduler, steps, spacing, device)
    x = x * scheduler.init_noise_sigma
    alphas = schedule.alphas_cumprod().to(device)
    timesteps = list(scheduler.timesteps)
    keep = set(torch.linspace(0, len(timesteps) - 1, min(frames, len(timesteps))).round().long().tolist())
    ts, xs, x0s = [], [], []
    with eval_mode(model):
        for i, t in enumerate(timesteps):
            x_in = scheduler.scale_model_input(x, t)
            eps = guided(x_in, t, cond).float()
            if i in keep:
                ab = alphas[int(t)]
                x0 = (x - (1 - ab).sqrt() * eps) / ab.sqrt()  # (B, 1, 32, 32)
                ts.append(int(t))
                xs.append(from_model_space(x).cpu())
                x0s.append(from_model_space(x0.clamp(-1, 1)).cpu())
            x = scheduler.step(eps, t, x, generator=generator, **extra).prev_sample
    return Filmstrip(ts, torch.stack(xs), torch.stack(x0s), from_model_space(x).cpu())
