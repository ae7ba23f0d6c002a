"""The forward (noising) process: a β schedule and q(x_t | x_0), with diffusers' schedulers as the carrier.

Ho et al. 2020 (DDPM, arXiv 2006.11239) eq. 4: x_t = √ᾱ_t · x_0 + √(1 − ᾱ_t) · ε, ᾱ_t = Π_{s≤t} (1 − β_s).
β is "linear" (DDPM: 1e-4 … 0.02 over 1000 steps) or "cosine" (Nichol & Dhariwal 2021, arXiv 2102.09672
eq. 17; diffusers calls it "squaredcos_cap_v2").
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch

from genlens.errors import GenlensError

BETA_SCHEDULES = {"linear": "linear", "cosine": "squaredcos_cap_v2"}


@dataclass(frozen=True)
class NoiseSchedule:
    beta_schedule: str = "linear"  # linear | cosine
    num_train_timesteps: int = 1000
    beta_start: float = 1e-4
    beta_end: float = 0.02

    def __post_init__(self) -> None:
        if self.beta_schedule not in BETA_SCHEDULES:
            raise GenlensError(f"beta schedule '{self.beta_schedule}' is unknown; use linear or cosine")
        if self.num_train_timesteps < 2:
            raise GenlensError("num_train_timesteps must be at least 2 (DDPM uses 1000)")

    def scheduler_config(self) -> dict[str, Any]:
        """Keyword arguments every diffusers scheduler of ours is built from."""
        return {"num_train_timesteps": self.num_train_timesteps, "beta_start": self.beta_start,
                "beta_end": self.beta_end, "beta_schedule": BETA_SCHEDULES[self.beta_schedule],
                "prediction_type": "epsilon"}

    def train_scheduler(self):
        """The ``DDPMScheduler`` that defines the training noise."""
        from diffusers import DDPMScheduler

        return DDPMScheduler(**self.scheduler_config())

    def alphas_cumprod(self) -> torch.Tensor:
        """ᾱ_t for t = 0 … T−1 (float32)."""
        return self.train_scheduler().alphas_cumprod.float()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NoiseSchedule:
        return cls(**d)


def q_sample(x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor, alphas_cumprod: torch.Tensor) -> torch.Tensor:
    """x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε (DDPM eq. 4), per-row timesteps ``t`` (B,)."""
    ab = alphas_cumprod.to(device=x0.device, dtype=torch.float32)[t.to(x0.device)]
    ab = ab.view(-1, *([1] * (x0.ndim - 1)))  # (B, 1, 1, 1)
    return (ab.sqrt() * x0.float() + (1.0 - ab).sqrt() * noise.float()).to(x0.dtype)
