"""Classifier-free guidance (Ho & Salimans 2022, arXiv 2207.12598, eq. 6, written with s = 1 + w):

    ε̃ = ε_u + s · (ε_c − ε_u)

s = 1 is the plain conditional model, s = 0 the unconditional one. Both predictions come from ONE forward
pass over a doubled batch: rows [0, B) carry the condition, rows [B, 2B) the null condition.
"""
from __future__ import annotations

import torch
from torch import nn

from genlens.diffusion.unet import Cond, repeat_cond
from genlens.errors import GenlensError


def combine(eps_cond: torch.Tensor, eps_uncond: torch.Tensor, scale: float) -> torch.Tensor:
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
    """Wraps a :class:`~genlens.diffusion.unet.Denoiser`; ``forward(x, t, cond)`` returns the guided ε̂."""

    def __init__(self, model: nn.Module, scale: float | None) -> None:
        super().__init__()
        self.model = model
        self.scale = check_guidance(model, scale)

    def forward(self, x: torch.Tensor, t: torch.Tensor | int, cond: Cond) -> torch.Tensor:
        if self.scale is None or self.scale == 1.0:
            return self.model(x, t, cond)
        b = x.shape[0]
        drop = torch.cat([torch.zeros(b, dtype=torch.bool), torch.ones(b, dtype=torch.bool)]).to(x.device)
        t = torch.as_tensor(t, device=x.device)
        t2 = t.repeat(2) if t.ndim == 1 else t
        eps = self.model(torch.cat([x, x]), t2, repeat_cond(cond, 2), drop=drop)  # (2B, C, H, W)
        eps_cond, eps_uncond = eps.chunk(2)
        return combine(eps_cond, eps_uncond, self.scale)
