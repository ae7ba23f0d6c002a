"""The forward (noising) process: a β schedule and q(x_t | x_0), with diffusers' schedulers as the carrier.

Ho et al. 2020 (DDPM, arXiv 2006.11239) eq. 4: x_t = √ᾱ_t · x_0 + √(1 − ᾱ_t) · ε, ᾱ_t = Π_{s≤t} (1 − β_s).
β is "linear" (DDPM: 1e-4 … 0.02 over 1000 steps) or "cosine" (Nichol & Dhariwal 2021, arXiv 2102.09672
eq. 17; diffusers calls it "squaredcos_cap_v2").
"""
from __future__ import annotations

import torch

from genlens.diffusion.config import BETA_SCHEDULES, NoiseSchedule

__all__ = ["BETA_SCHEDULES", "NoiseSchedule", "q_sample"]


def q_sample(x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor, alphas_cumprod: torch.Tensor) -> torch.Tensor:
    """x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε (DDPM eq. 4), per-row timesteps ``t`` (B,)."""
    ab = alphas_cumprod.to(device=x0.device, dtype=torch.float32)[t.to(x0.device)]
    ab = ab.view(-1, *([1] * (x0.ndim - 1)))  # (B, 1, 1, 1)
    return (ab.sqrt() * x0.float() + (1.0 - ab).sqrt() * noise.float()).to(x0.dtype)
