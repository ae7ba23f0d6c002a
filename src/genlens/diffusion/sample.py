"""Reverse process: diffusers schedulers as samplers, driven by a (guided) denoiser.

Samplers (registry ``SAMPLERS``): ``ddpm`` (ancestral, Ho et al. 2020; meant for all 1000 steps),
``ddim`` (Song et al. 2021, arXiv 2010.02502, eta = 0: deterministic given x_T) and ``dpm++``
(DPM-Solver++ 2M, Lu et al. 2022, arXiv 2211.01095). Each is built from the model's training schedule
and uses the diffusers interface ``set_timesteps(n)``, ``.timesteps``, ``step(ε̂, t, x, generator=)``. Which
timesteps the S steps visit is the timestep spacing (:mod:`genlens.diffusion.spacing`; default diffusers'
``leading``).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from genlens.diffusion.guidance import GuidedDenoiser, check_interval
from genlens.diffusion.schedule import NoiseSchedule
from genlens.diffusion.spacing import TimestepSpacing, set_spaced_timesteps
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
    from genlens.diffusion.ddim import SpacedDDIMScheduler  # diffusers' DDIM, plus custom timestep sequences

    return SpacedDDIMScheduler(**schedule.scheduler_config())


@SAMPLERS.register("dpm++", default_steps=20)
def _dpmpp(schedule: NoiseSchedule):
    from diffusers import DPMSolverMultistepScheduler

    # Data-prediction solver: x̂_0 is clipped to the data range [-1, 1] before each update, the same
    # clip DDIM and DDPM apply. (Dynamic thresholding with sample_max_value = 1 reduces to that clip:
    # the per-image quantile s is clamped to [1, 1].) Without it x̂_0 overshoots on flat black
    # backgrounds and the deterministic path drifts grey.
    return DPMSolverMultistepScheduler(**schedule.scheduler_config(), algorithm_type="dpmsolver++",
                                       solver_order=2, thresholding=True, sample_max_value=1.0)


# Extra keyword arguments of each scheduler's ``step``. DDIM (Song et al. 2021, eq. 12) writes
# x_{t-1} = √ᾱ_{t-1} x̂_0 + √(1 − ᾱ_{t-1}) ε̂. diffusers clips x̂_0 to [-1, 1] but by default keeps the
# raw ε̂, so the two terms disagree wherever the clip acted; re-deriving ε̂ from the clipped x̂_0
# (``use_clipped_model_output``, as GLIDE does) keeps the step on the deterministic path. Measured on
# the shipped class model (100 samples, s = 3, CNN-judged): DDIM-20 45% -> 77%, DDIM-50 21% -> 85%.
_STEP_KWARGS: dict[str, dict[str, Any]] = {"ddim": {"use_clipped_model_output": True, "eta": 0.0}}


def step_kwargs(sampler: str) -> dict[str, Any]:
    """Keyword arguments to pass to ``scheduler.step`` for the named sampler (see ``_STEP_KWARGS``)."""
    return dict(_STEP_KWARGS.get(sampler, {}))


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
    guidance_interval: tuple[int, int] | None = None,
    schedule: NoiseSchedule | None = None,
    generator: torch.Generator | None = None,
    spacing: TimestepSpacing | str | None = None,
    callback: Callable[[dict[str, Any]], None] | None = None,
    return_trajectory: bool = False,
    trajectory_frames: int = 8,
) -> torch.Tensor | tuple[torch.Tensor, Trajectory]:
    """Generate images (B, 1, 28, 28) in [0, 1].

    ``cond``: labels (B,) for a class model, ``(tokens, mask)`` for a text model, ``None`` for an
    unconditional one (then ``n`` sets the batch). ``guidance`` s: ε̃ = ε_u + s(ε_c − ε_u) (None or 1:
    conditional only); ``guidance_interval`` (t_lo, t_hi) applies s only at training timesteps inside it
    (:mod:`genlens.diffusion.guidance`); ``spacing`` picks the timesteps the steps visit
    (:mod:`genlens.diffusion.spacing`, default ``leading``). The initial noise and the stochastic samplers draw from ``generator``, so a seed
    gives the same images on the same device. ``callback({"step", "total", "t"})`` after each step.
    """
    if steps < 1:
        raise GenlensError(f"steps must be at least 1, got {steps}")
    schedule = schedule or NoiseSchedule()
    if steps > schedule.num_train_timesteps:
        raise GenlensError(f"steps {steps} exceeds the model's {schedule.num_train_timesteps} training timesteps")
    scheduler = SAMPLERS.create(sampler, schedule=schedule)
    extra = step_kwargs(sampler)
    guided = GuidedDenoiser(model, guidance, check_interval(guidance_interval, schedule.num_train_timesteps))
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
    set_spaced_timesteps(scheduler, steps, spacing, device)
    x = x * scheduler.init_noise_sigma
    timesteps = list(scheduler.timesteps)
    keep = set(torch.linspace(0, len(timesteps) - 1, max(2, trajectory_frames)).round().long().tolist())
    frames, frame_t = [], []
    with eval_mode(model):
        for i, t in enumerate(timesteps):
            x_in = scheduler.scale_model_input(x, t)
            eps = guided(x_in, t, cond)
            x = scheduler.step(eps.float(), t, x, generator=generator, **extra).prev_sample
            if return_trajectory and i in keep:
                frames.append(from_model_space(x).cpu())
                frame_t.append(int(t))
            if callback is not None:
                callback({"step": i + 1, "total": len(timesteps), "t": int(t)})
    images = from_model_space(x)
    if return_trajectory:
        return images, Trajectory(frame_t, torch.stack(frames))
    return images
