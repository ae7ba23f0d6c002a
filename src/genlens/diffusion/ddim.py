"""diffusers' DDIM scheduler, extended to visit any decreasing sequence of training timesteps.

diffusers' ``DDIMScheduler.step`` finds the previous timestep as t − ⌊T/S⌋, which holds only for its own evenly
spaced sequences. DDIM itself is defined on any sub-sequence τ (Song et al. 2021, arXiv 2010.02502, §4.2), so
``SpacedDDIMScheduler.set_timesteps(timesteps=[...])`` takes one (:mod:`genlens.diffusion.spacing`) and ``step``
then applies eq. 12 between consecutive entries of it:

    x̂_0 = (x_t − √(1 − ᾱ_t) ε̂) / √ᾱ_t        (clipped to the data range, as diffusers does)
    x_prev = √ᾱ_prev x̂_0 + √(1 − ᾱ_prev − σ²) ε̂ + σ z,   σ = η √((1 − ᾱ_prev)/(1 − ᾱ_t)) √(1 − ᾱ_t/ᾱ_prev)  (eq. 16)

with ᾱ_prev = ``final_alpha_cumprod`` after the last entry. Without ``timesteps=`` everything is diffusers' own.
"""
from __future__ import annotations

from itertools import pairwise
from typing import Any

import torch
from diffusers import DDIMScheduler
from diffusers.schedulers.scheduling_ddim import DDIMSchedulerOutput

from genlens.errors import GenlensError


class SpacedDDIMScheduler(DDIMScheduler):
    _previous: dict[int, int] | None = None

    def set_timesteps(self, num_inference_steps: int | None = None, device: Any = None,
                      timesteps: list[int] | None = None) -> None:
        if timesteps is None:
            self._previous = None
            super().set_timesteps(num_inference_steps, device=device)
            return
        ts = [int(t) for t in timesteps]
        T = int(self.config.num_train_timesteps)
        if not ts or any(a <= b for a, b in pairwise(ts)) or ts[0] >= T or ts[-1] < 0:
            raise GenlensError(f"custom DDIM timesteps must strictly decrease within 0..{T - 1}, got {ts[:4]}...")
        self.num_inference_steps = len(ts)
        self.timesteps = torch.tensor(ts, dtype=torch.long, device=device)
        self._previous = dict(zip(ts, [*ts[1:], -1], strict=True))

    def step(self, model_output: torch.Tensor, timestep: int | torch.Tensor, sample: torch.Tensor, eta: float = 0.0,
             use_clipped_model_output: bool = False, generator: torch.Generator | None = None,
             variance_noise: torch.Tensor | None = None, return_dict: bool = True) -> Any:
        if self._previous is None:
            return super().step(model_output, timestep, sample, eta=eta, use_clipped_model_output=use_clipped_model_output,
                                generator=generator, variance_noise=variance_noise, return_dict=return_dict)
        if self.config.prediction_type != "epsilon":
            raise GenlensError("custom DDIM timesteps support ε-prediction models only")
        t = int(timestep)
        if t not in self._previous:
            raise GenlensError(f"timestep {t} is not in this scheduler's sequence; call set_timesteps first")
        prev = self._previous[t]
        ab = self.alphas_cumprod.to(device=sample.device, dtype=torch.float32)
        a_t = ab[t]
        a_prev = ab[prev] if prev >= 0 else self.final_alpha_cumprod.to(device=sample.device, dtype=torch.float32)
        eps = model_output
        x0 = (sample - (1 - a_t).sqrt() * eps) / a_t.sqrt()  # eq. 12, "predicted x_0"
        if self.config.thresholding:
            x0 = self._threshold_sample(x0)
        elif self.config.clip_sample:
            x0 = x0.clamp(-self.config.clip_sample_range, self.config.clip_sample_range)
        if use_clipped_model_output:  # the ε that agrees with the clipped x̂_0 (GLIDE)
            eps = (sample - a_t.sqrt() * x0) / (1 - a_t).sqrt()
        sigma = eta * ((1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev)).sqrt()  # eq. 16
        prev_sample = a_prev.sqrt() * x0 + (1 - a_prev - sigma**2).clamp_min(0).sqrt() * eps
        if eta > 0:
            if variance_noise is None:
                variance_noise = torch.randn(sample.shape, generator=generator, dtype=sample.dtype,
                                             device=generator.device if generator is not None else sample.device)
            prev_sample = prev_sample + sigma * variance_noise.to(sample.device)
        if not return_dict:
            return (prev_sample, x0)
        return DDIMSchedulerOutput(prev_sample=prev_sample, pred_original_sample=x0)
