"""Classifier-free guidance (Ho & Salimans 2022, arXiv 2207.12598, eq. 6, written with s = 1 + w):

    ε̃ = ε_u + s · (ε_c − ε_u)

s = 1 is the plain conditional model, s = 0 the unconditional one. Both predictions come from ONE forward
pass over a doubled batch: rows [0, B) carry the condition, rows [B, 2B) the null condition.

Guidance interval (Kynkäänniemi et al. 2024, arXiv 2404.07724): guidance is harmful at the highest noise
levels (it collapses the layout's diversity) and unnecessary at the lowest, so the paper applies s only for
noise levels inside an interval and the plain conditional prediction (s = 1) elsewhere, and suggests exposing
the interval as a hyper-parameter. Here it is given in training timesteps [t_lo, t_hi]; steps outside it
skip the doubled batch, so they also cost half as much.
"""
from __future__ import annotations

import torch
from torch import nn

from genlens.diffusion.config import check_interval
from genlens.diffusion.unet import Cond, repeat_cond
from genlens.errors import GenlensError

__all__ = ["GuidedDenoiser", "check_guidance", "check_interval", "combine"]


def combine(eps_cond: torch.Tensor, eps_uncond: torch.Tensor, scale: float | torch.Tensor) -> torch.Tensor:
    """ε_u + s · (ε_c − ε_u)."""
    return eps_uncond + scale * (eps_cond - eps_uncond)


def check_guidance(model: nn.Module, guidance: float | None) -> float | None:
    """The guidance scale to use; guidance on an unconditional model is a one-line error."""
    kind = getattr(model, "cond_kind", "none")
    if kind == "none":
        if guidance is not None and float(guidance) != 1.0:
            raise GenlensError(f"guidance {guidance} needs a conditional model, but this one is unconditional; "
                               "drop --guidance (or pass --guidance 1)")
        return None
    if guidance is None:
        return None
    if guidance < 0:
        raise GenlensError(f"guidance must be >= 0, got {guidance} (1 = no guidance, 3 is a good start)")
    return float(guidance)


class GuidedDenoiser(nn.Module):
    """Wraps a :class:`~genlens.diffusion.unet.Denoiser`; ``forward(x, t, cond)`` returns the guided ε̂.
    With ``interval`` (t_lo, t_hi), rows whose timestep lies outside it get the conditional ε̂ alone (s = 1)."""

    def __init__(self, model: nn.Module, scale: float | None, interval: tuple[int, int] | None = None) -> None:
        super().__init__()
        self.model = model
        self.scale = check_guidance(model, scale)
        self.interval = check_interval(interval, 10**9)

    def forward(self, x: torch.Tensor, t: torch.Tensor | int, cond: Cond) -> torch.Tensor:
        if self.scale is None or self.scale == 1.0:
            return self.model(x, t, cond)
        scale: float | torch.Tensor = self.scale
        if self.interval is not None:
            tt = torch.as_tensor(t, device=x.device)
            inside = (tt >= self.interval[0]) & (tt <= self.interval[1])
            if not bool(inside.any()):
                return self.model(x, t, cond)  # no row guided: skip the doubled batch
            if not bool(inside.all()):  # per-row timesteps straddling the interval: s on the inside rows only
                scale = torch.where(inside, self.scale, 1.0).to(x.dtype).view(-1, *([1] * (x.ndim - 1)))
        b = x.shape[0]
        drop = torch.cat([torch.zeros(b, dtype=torch.bool), torch.ones(b, dtype=torch.bool)]).to(x.device)
        t = torch.as_tensor(t, device=x.device)
        t2 = t.repeat(2) if t.ndim == 1 else t
        eps = self.model(torch.cat([x, x]), t2, repeat_cond(cond, 2), drop=drop)  # (2B, C, H, W)
        eps_cond, eps_uncond = eps.chunk(2)
        return combine(eps_cond, eps_uncond, scale)
