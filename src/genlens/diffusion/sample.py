"""Reverse process: diffusers schedulers as samplers, driven by a (guided) denoiser.

Samplers (registry ``SAMPLERS``): ``ddpm`` (ancestral, Ho et al. 2020; meant for all 1000 steps),
``ddim`` (Song et al. 2021, arXiv 2010.02502, eta = 0: deterministic given x_T) and ``dpm++``
(DPM-Solver++ 2M, Lu et al. 2022, arXiv 2211.01095). Each is built from the model's training schedule
and uses the diffusers interface ``set_timesteps(n)``, ``.timesteps``, ``step(ε̂, t, x, generator=)``.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from genlens.diffusion.guidance import GuidedDenoiser
from genlens.diffusion.schedule import NoiseSchedule
from genlens.diffusion.unet import Cond, cond_batch_size, from_model_space
from genlens.errors import GenlensError
from genlens.registry import Registry
from genlens.utils.modes import eval_mode

SAMPLERS: Registry[Any] = Registry("sampler")


@SAMPLERS.register("ddpm", default_steps=1000)
def _ddpm(schedule: NoiseSchedule):
    from diffusers import DDPMScheduler

    return DDPMScheduler(**schedule.scheduler_config())


@SAMPLERS.register("ddim", default_steps=20)
def _ddim(schedule: NoiseSchedule):
    from diffusers import DDIMScheduler

    return DDIMScheduler(**schedule.scheduler_config())


@SAMPLERS.register("dpm++", default_steps=20)
def _dpmpp(schedule: NoiseSchedule):
    from diffusers import DPMSolverMultistepScheduler

    return DPMSolverMultistepScheduler(**schedule.scheduler_config(), algorithm_type="dpmsolver++",
                                       solver_order=2)


@dataclass
class Trajectory:
    """x_t (cropped, in [0, 1]) at a few timesteps of one sampling run: a denoising filmstrip."""

    timesteps: list[int]
    frames: torch.Tensor  # (K, B, 1, 28, 28)


@torch.no_grad()
def sample(
    model: nn.Module,
    cond: Cond,
    *,
    n: int | None = None,
    sampler: str = "ddim",
    steps: int = 20,
    guidance: float | None = 3.0,
    schedule: NoiseSchedule | None = None,
    generator: torch.Generator | None = None,
    callback: Callable[[dict[str, Any]], None] | None = None,
    return_trajectory: bool = False,
    trajectory_frames: int = 8,
) -> torch.Tensor | tuple[torch.Tensor, Trajectory]:
    """Generate images (B, 1, 28, 28) in [0, 1].

    ``cond``: labels (B,) for a class model, ``(tokens, mask)`` for a text model, ``None`` for an
    unconditional one (then ``n`` sets the batch). ``guidance`` s: ε̃ = ε_u + s(ε_c − ε_u) (None or 1:
    conditional only). The initial noise and the stochastic samplers draw from ``generator``, so a seed
    gives the same images on the same device. ``callback({"step", "total", "t"})`` after each step.
    """
    if steps < 1:
        raise GenlensError(f"steps must be at least 1, got {steps}")
    schedule = schedule or NoiseSchedule()
    if steps > schedule.num_train_timesteps:
        raise GenlensError(f"steps {steps} exceeds the model's {schedule.num_train_timesteps} training timesteps")
    scheduler = SAMPLERS.create(sampler, schedule=schedule)
    guided = GuidedDenoiser(model, guidance)
    if cond is None:
        if n is None or n < 1:
            raise GenlensError("an unconditional model needs n >= 1 (how many images)")
        b = n
    else:
        b = cond_batch_size(cond)
    device = next(model.parameters()).device
    size = model.config.sample_size
    x = torch.randn(b, model.config.in_channels, size, size, generator=generator,
                    device=generator.device if generator is not None else device).to(device)
    scheduler.set_timesteps(steps, device=device)
    x = x * scheduler.init_noise_sigma
    timesteps = list(scheduler.timesteps)
    keep = set(torch.linspace(0, len(timesteps) - 1, max(2, trajectory_frames)).round().long().tolist())
    frames, frame_t = [], []
    with eval_mode(model):
        for i, t in enumerate(timesteps):
            x_in = scheduler.scale_model_input(x, t)
            eps = guided(x_in, t, cond)
            x = scheduler.step(eps.float(), t, x, generator=generator).prev_sample
            if return_trajectory and i in keep:
                frames.append(from_model_space(x).cpu())
                frame_t.append(int(t))
            if callback is not None:
                callback({"step": i + 1, "total": len(timesteps), "t": int(t)})
    images = from_model_space(x)
    if return_trajectory:
        return images, Trajectory(frame_t, torch.stack(frames))
    return images
