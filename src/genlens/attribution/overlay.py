"""Heatmap colouring and alpha overlays, in torch (no matplotlib): tensors in, RGB tensors in [0, 1] out."""
from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from genlens.registry import Registry

COLORMAPS: Registry[torch.Tensor] = Registry("colormap")


def _poly(x: torch.Tensor, coeffs: tuple[float, ...]) -> torch.Tensor:
    out = torch.full_like(x, coeffs[-1])
    for c in reversed(coeffs[:-1]):  # Horner
        out = out * x + c
    return out


@COLORMAPS.register("turbo")
def turbo(x: torch.Tensor) -> torch.Tensor:
    """Google's Turbo colormap as a degree-5 polynomial per channel (a close fit of the lookup table).

    (...) in [0, 1] -> (..., 3).
    """
    r = _poly(x, (0.13572138, 4.61539260, -42.66032258, 132.13108234, -152.94239396, 59.28637943))
    g = _poly(x, (0.09140261, 2.19418839, 4.84296658, -14.18503333, 4.27729857, 2.82956604))
    b = _poly(x, (0.10667330, 12.64194608, -60.58204836, 110.36276771, -89.90310912, 27.34824973))
    return torch.stack([r, g, b], dim=-1).clamp(0, 1)


@COLORMAPS.register("jet")
def jet(x: torch.Tensor) -> torch.Tensor:
    """Classic jet as three clipped triangles: blue (0) -> cyan -> yellow -> red (1). (...) -> (..., 3)."""
    def tri(centre: float) -> torch.Tensor:
        return (1.5 - (4 * x - centre).abs()).clamp(0, 1)

    return torch.stack([tri(3.0), tri(2.0), tri(1.0)], dim=-1)


@COLORMAPS.register("gray")
def gray(x: torch.Tensor) -> torch.Tensor:
    return x.clamp(0, 1).unsqueeze(-1).expand(*x.shape, 3)


def colorize(heat: torch.Tensor, *,
             cmap: str | Callable[[torch.Tensor], torch.Tensor] = "turbo") -> torch.Tensor:
    """Heatmaps (B, H, W) or (H, W) with values in [0, 1] -> RGB (B, 3, H, W) or (3, H, W)."""
    fn = COLORMAPS.get(cmap) if isinstance(cmap, str) else cmap
    rgb = fn(heat.detach().float().clamp(0, 1))  # (..., H, W, 3)
    return rgb.movedim(-1, -3).contiguous()


def overlay(images: torch.Tensor, heat: torch.Tensor, *, alpha: float = 0.5,
            cmap: str | Callable[[torch.Tensor], torch.Tensor] = "turbo") -> torch.Tensor:
    """Blend coloured heatmaps onto images: (1 - alpha) * image + alpha * colour.

    images: (B, C, H, W) or (C, H, W) in [0, 1], C in {1, 3} (grayscale is repeated to RGB);
    heat: (B, h, w) or (h, w) in [0, 1], bilinearly resized to (H, W) if needed.
    Returns RGB (B, 3, H, W) or (3, H, W) in [0, 1], on the images' device.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    single = images.ndim == 3
    imgs = images.unsqueeze(0) if single else images
    hm = heat.unsqueeze(0) if heat.ndim == 2 else heat
    if imgs.ndim != 4 or imgs.shape[1] not in (1, 3) or hm.ndim != 3 or hm.shape[0] != imgs.shape[0]:
        raise ValueError(f"overlay expects images (B, 1|3, H, W) and heat (B, h, w); "
                         f"got {tuple(images.shape)} and {tuple(heat.shape)}")
    imgs = imgs.detach().float().clamp(0, 1)
    hm = hm.detach().float().to(imgs.device)
    if hm.shape[-2:] != imgs.shape[-2:]:
        hm = F.interpolate(hm.unsqueeze(1), size=imgs.shape[-2:], mode="bilinear", align_corners=False)
        hm = hm.squeeze(1)
    rgb = imgs.expand(-1, 3, -1, -1) if imgs.shape[1] == 1 else imgs
    out = ((1 - alpha) * rgb + alpha * colorize(hm, cmap=cmap)).clamp(0, 1)
    return out[0] if single else out
