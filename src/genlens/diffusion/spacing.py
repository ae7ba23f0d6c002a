"""Timestep spacing: which training timesteps a few-step sampler visits.

With S sampling steps out of T training timesteps a sampler may visit any decreasing sub-sequence τ of
0 … T−1: DDIM's generative process is defined on any such sub-sequence (Song et al. 2021, arXiv 2010.02502,
§4.2), and so are DDPM's respaced posterior and DPM-Solver++. Spacings (``TimestepSpacing.parse``):

- ``leading`` (the default; diffusers' own): τ_i = i·⌊T/S⌋, so 20 steps visit 950, 900, …, 0;
- ``trailing`` (diffusers'; Lin et al. 2024, arXiv 2305.08891, Table 2): evenly spaced ending at T−1;
- ``power:ρ``: τ_i = round((T−1)·(i/(S−1))^ρ), i = 0 … S−1. ρ = 1 is even spacing from T−1 to 0; ρ > 1
  spends more steps at low noise, where fine detail forms. ``quadratic`` is ρ = 2, the selection
  τ_i = ⌊c·i²⌋ that Song et al. use for CIFAR-10 (Appendix D.2).

At S = T every spacing is every timestep. A spacing that would visit a timestep twice (a large ρ with many
steps) is refused with the largest step count it allows.
"""
from __future__ import annotations

import inspect
from typing import Any

import torch

from genlens.diffusion.config import SPACING_HELP, TimestepSpacing
from genlens.errors import GenlensError

__all__ = ["SPACING_HELP", "TimestepSpacing", "set_spaced_timesteps", "spaced_timesteps"]

def spaced_timesteps(spacing: TimestepSpacing | str | None, steps: int, num_train_timesteps: int) -> list[int]:
    """The ``steps`` training timesteps the sampler visits, largest first."""
    spacing = TimestepSpacing.parse(spacing)
    T, S = int(num_train_timesteps), int(steps)
    if not 1 <= S <= T:
        raise GenlensError(f"steps must be in 1..{T} (the model's training timesteps), got {S}")
    if S == T:
        return list(range(T - 1, -1, -1))
    if spacing.kind == "leading":
        ts = [i * (T // S) for i in range(S)]
    elif spacing.kind == "trailing":
        ts = [round(T - i * T / S) - 1 for i in range(S)]
    else:
        ts = _power_timesteps(spacing.power, S, T)
    ts = sorted(set(ts), reverse=True)
    if len(ts) != S:
        most = max(s for s in range(1, S) if len(set(_power_timesteps(spacing.power, s, T))) == s)
        raise GenlensError(f"timestep spacing {spacing} with {S} steps visits some timesteps twice; use at most "
                           f"{most} steps or a power closer to 1")
    return ts


def _power_timesteps(rho: float, steps: int, T: int) -> list[int]:
    """τ_i = round((T−1)·(i/(S−1))^ρ), i = 0 … S−1 (S = 1: the noisiest timestep alone)."""
    if steps == 1:
        return [T - 1]
    return [round((T - 1) * (i / (steps - 1)) ** rho) for i in range(steps)]


def set_spaced_timesteps(scheduler: Any, steps: int, spacing: TimestepSpacing | str | None,
                         device: torch.device | str | None = None) -> list[int]:
    """Point a diffusers scheduler at the spacing's timesteps. ``leading`` calls the scheduler's own
    ``set_timesteps(steps)``, unchanged; other spacings pass ``timesteps=`` (DDPM and DPM-Solver++ take a
    custom sequence; our DDIM does through :class:`genlens.diffusion.ddim.SpacedDDIMScheduler`)."""
    spacing = TimestepSpacing.parse(spacing)
    T = int(scheduler.config.num_train_timesteps)
    if spacing.is_default or int(steps) == T:
        spaced_timesteps(spacing, steps, T)  # the same range check either way
        scheduler.set_timesteps(int(steps), device=device)
    else:
        if "timesteps" not in inspect.signature(scheduler.set_timesteps).parameters:
            raise GenlensError(f"{type(scheduler).__name__} cannot visit custom timesteps; use --timestep-spacing leading")
        scheduler.set_timesteps(timesteps=spaced_timesteps(spacing, steps, T), device=device)
    return [int(t) for t in scheduler.timesteps]
