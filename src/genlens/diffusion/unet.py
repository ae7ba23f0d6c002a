"""The denoising network: a diffusers UNet wrapped so that every conditioning kind has one interface.

``Denoiser(x_t, t, cond, drop=None) -> ε̂`` with ``x_t`` (B, 1, 32, 32) in [-1, 1] (28×28 Fashion-MNIST
padded by 2 px of background, see :func:`to_model_space`). ``cond`` is

- ``"class"``: integer labels (B,), built on ``UNet2DModel`` with ``num_class_embeds = num_classes + 1``;
  the last index is the null class of classifier-free guidance (Ho & Salimans 2022, arXiv 2207.12598);
- ``"text"``: ``(tokens (B, T, 384), mask (B, T) bool)`` MiniLM token embeddings, cross-attended by
  ``UNet2DConditionModel``; the null condition is a learned (T, 384) embedding with a full mask;
- ``"none"``: ``None`` (an unconditional ``UNet2DModel``);
- ``"layout"``: per-class layout channels (B, num_classes, H, W) in [0, 1] (:func:`genlens.data.layout.render_layout`)
  concatenated to ``x_t`` as extra ``UNet2DModel`` input channels (Make-A-Scene, Gafni et al. 2022, conditions
  on a segmentation-like map; here blobs); the null condition is the all-zero layout.

``drop`` (B,) bool replaces the condition of those rows by the null condition: condition dropout in
training and the unconditional half of the guidance batch at sampling time.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from genlens.diffusion.config import CONDS, IMAGE_SIZE, PAD, PRESETS, UNetConfig

__all__ = ["CONDS", "IMAGE_SIZE", "PAD", "PRESETS", "Cond", "Denoiser", "UNetConfig", "build_unet", "cond_batch_size",
           "from_model_space", "repeat_cond", "to_model_space"]
Cond = Any  # labels (B,) | (tokens (B, T, D), mask (B, T)) | layout channels (B, C, H, W) | None


def _block_types(cfg: UNetConfig, *, cross: bool) -> tuple[tuple[str, ...], tuple[str, ...]]:
    attn_down = "CrossAttnDownBlock2D" if cross else "AttnDownBlock2D"
    attn_up = "CrossAttnUpBlock2D" if cross else "AttnUpBlock2D"
    down = tuple(attn_down if a else "DownBlock2D" for a in cfg.attention_levels)
    up = tuple(attn_up if a else "UpBlock2D" for a in reversed(cfg.attention_levels))
    return down, up


def build_unet(cfg: UNetConfig) -> nn.Module:
    """The diffusers network for ``cfg``: ``UNet2DModel`` (class / none) or ``UNet2DConditionModel`` (text)."""
    from diffusers import UNet2DConditionModel, UNet2DModel

    common = dict(sample_size=cfg.sample_size, in_channels=cfg.in_channels + cfg.cond_channels,
                  out_channels=cfg.in_channels,
                  block_out_channels=cfg.block_out_channels, layers_per_block=cfg.layers_per_block,
                  norm_num_groups=cfg.norm_num_groups, attention_head_dim=cfg.attention_head_dim)
    if cfg.cond == "text":
        down, up = _block_types(cfg, cross=True)
        return UNet2DConditionModel(down_block_types=down, up_block_types=up, cross_attention_dim=cfg.text_dim,
                                    **common)
    down, up = _block_types(cfg, cross=False)
    num_class_embeds = cfg.num_classes + 1 if cfg.cond == "class" else None  # +1: the null class
    return UNet2DModel(down_block_types=down, up_block_types=up, num_class_embeds=num_class_embeds, **common)


class Denoiser(nn.Module):
    """ε-prediction network ``(x_t, t, cond, drop) -> ε̂`` over (B, 1, 32, 32) images in [-1, 1]."""

    def __init__(self, config: UNetConfig) -> None:
        super().__init__()
        self.config = config
        self.unet = build_unet(config)
        if config.cond == "text":  # the unconditional branch's "prompt" (learned, like Imagen's null embedding)
            self.null_tokens = nn.Parameter(torch.randn(config.max_tokens, config.text_dim) * 0.02)

    @property
    def cond_kind(self) -> str:
        return self.config.cond

    @property
    def null_class(self) -> int:
        return self.config.num_classes

    def forward(self, x: torch.Tensor, t: torch.Tensor | int, cond: Cond = None,
                drop: torch.Tensor | None = None) -> torch.Tensor:
        b = x.shape[0]
        t = torch.as_tensor(t, device=x.device)
        t = t.expand(b) if t.ndim == 0 else t  # (B,)
        kind = self.config.cond
        if kind == "none":
            return self.unet(x, t).sample
        if kind == "layout":
            layout = torch.as_tensor(cond).to(device=x.device, dtype=x.dtype)  # (B, num_classes, H, W)
            if drop is not None:  # the null condition: an empty layout
                layout = layout * (~drop.to(x.device)).to(x.dtype).view(b, 1, 1, 1)
            return self.unet(torch.cat([x, layout], 1), t).sample
        if kind == "class":
            labels = torch.as_tensor(cond, device=x.device).long()  # (B,)
            if drop is not None:
                labels = torch.where(drop.to(x.device), torch.full_like(labels, self.null_class), labels)
            return self.unet(x, t, class_labels=labels).sample
        tokens, mask = cond  # (B, T, D), (B, T)
        tokens = tokens.to(device=x.device, dtype=self.null_tokens.dtype)
        mask = mask.to(x.device).bool()
        if drop is not None:
            d = drop.to(x.device).view(b, 1, 1)
            tokens = torch.where(d, self.null_tokens.expand_as(tokens), tokens)
            mask = mask | d.view(b, 1)
        return self.unet(x, t, encoder_hidden_states=tokens, encoder_attention_mask=mask.float()).sample


def repeat_cond(cond: Cond, times: int = 2) -> Cond:
    """Stack a condition ``times`` times along the batch (the doubled batch of guidance)."""
    if cond is None:
        return None
    if isinstance(cond, (tuple, list)):
        return type(cond)(repeat_cond(c, times) for c in cond)
    return torch.cat([cond] * times)


def cond_batch_size(cond: Cond) -> int:
    if isinstance(cond, (tuple, list)):
        return int(cond[0].shape[0])
    return int(cond.shape[0])


# ----------------------------------------------------------------------------------------- pixels
def to_model_space(images: torch.Tensor, pad: int = PAD) -> torch.Tensor:
    """(B, C, 28, 28) in [0, 1] (or uint8) -> (B, C, 32, 32) in [-1, 1]; the ``pad``-pixel border is background
    (black). Scenes (32×32 already) use ``pad=0``."""
    x = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
    x = F.pad(x, (pad, pad, pad, pad), value=0.0) if pad else x
    return x * 2.0 - 1.0


def from_model_space(x: torch.Tensor, pad: int = PAD) -> torch.Tensor:
    """(B, C, 32, 32) in [-1, 1] -> (B, C, 28, 28) in [0, 1] (crop the ``pad`` border, clamp)."""
    x = x[..., pad:-pad, pad:-pad] if pad else x
    return ((x.float() + 1.0) / 2.0).clamp(0.0, 1.0)

