"""The denoising network: a diffusers UNet wrapped so that every conditioning kind has one interface.

``Denoiser(x_t, t, cond, drop=None) -> ε̂`` with ``x_t`` (B, 1, 32, 32) in [-1, 1] (28×28 Fashion-MNIST
padded by 2 px of background, see :func:`to_model_space`). ``cond`` is

- ``"class"``: integer labels (B,), built on ``UNet2DModel`` with ``num_class_embeds = num_classes + 1``;
  the last index is the null class of classifier-free guidance (Ho & Salimans 2022, arXiv 2207.12598);
- ``"text"``: ``(tokens (B, T, 384), mask (B, T) bool)`` MiniLM token embeddings, cross-attended by
  ``UNet2DConditionModel``; the null condition is a learned (T, 384) embedding with a full mask;
- ``"none"``: ``None`` (an unconditional ``UNet2DModel``).

``drop`` (B,) bool replaces the condition of those rows by the null condition: condition dropout in
training and the unconditional half of the guidance batch at sampling time.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from genlens.errors import GenlensError

CONDS = ("class", "text", "none")
IMAGE_SIZE = 28  # Fashion-MNIST
PAD = 2  # 28 + 2·2 = 32: three resolutions (32, 16, 8) divide evenly
Cond = Any  # labels (B,) | (tokens (B, T, D), mask (B, T)) | None


@dataclass(frozen=True)
class UNetConfig:
    """Architecture of the denoiser; stored in checkpoints and in the model folder's config.json."""

    cond: str = "class"  # class | text | none
    num_classes: int = 10
    block_out_channels: tuple[int, ...] = (32, 64, 64)
    layers_per_block: int = 2
    attention_head_dim: int = 8
    norm_num_groups: int = 16
    attention_levels: tuple[bool, ...] = (False, True, True)  # (cross-)attention per resolution
    text_dim: int = 384  # MiniLM token embeddings
    max_tokens: int = 16
    # Text only: cross-attention also sees the prompt's mean token (MiniLM's sentence pooling) in slot 0,
    # so paraphrases, which sentence-BERT places together, condition alike (like Imagen's pooled embedding).
    pooled_token: bool = False
    in_channels: int = 1
    sample_size: int = IMAGE_SIZE + 2 * PAD

    def __post_init__(self) -> None:
        if self.cond not in CONDS:
            raise GenlensError(f"conditioning '{self.cond}' is unknown; use class, text or none")
        object.__setattr__(self, "block_out_channels", tuple(int(c) for c in self.block_out_channels))
        object.__setattr__(self, "attention_levels", tuple(bool(a) for a in self.attention_levels))
        if len(self.attention_levels) != len(self.block_out_channels):
            raise GenlensError("attention_levels needs one flag per entry of block_out_channels")
        if any(c % self.norm_num_groups for c in self.block_out_channels):
            raise GenlensError(f"every block width {self.block_out_channels} must be a multiple of "
                               f"norm_num_groups={self.norm_num_groups}")
        if self.cond == "class" and self.num_classes < 1:
            raise GenlensError("a class-conditional denoiser needs num_classes >= 1")

    @classmethod
    def preset(cls, name: str, cond: str = "class", **kw: Any) -> UNetConfig:
        """Named sizes: ``base`` (1.7 M parameters, GPU), ``small`` (0.7 M, 2.8x the CPU throughput), ``xs`` (a guide
        for autoguidance), ``tiny`` (tests)."""
        if name == "tiny":
            return cls.tiny(cond, **kw)
        if name not in PRESETS:
            raise GenlensError(f"denoiser size '{name}' is unknown; use one of: {', '.join([*PRESETS, 'tiny'])}")
        return cls(cond=cond, **{**PRESETS[name], **kw})

    @classmethod
    def tiny(cls, cond: str = "class", **kw: Any) -> UNetConfig:
        """A few thousand parameters: for tests and smoke runs only."""
        base = dict(block_out_channels=(8, 16), layers_per_block=1, attention_head_dim=4, norm_num_groups=4,
                    attention_levels=(False, cond == "text"), max_tokens=8)  # text needs one cross-attention
        return cls(cond=cond, **{**base, **kw})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> UNetConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise GenlensError(f"unknown denoiser config fields {unknown}; the model folder is from another version")
        return cls(**d)


# Sizes measured on one CPU thread, batch 64 (training images/s): base 17, small 48.
PRESETS: dict[str, dict[str, Any]] = {
    "base": {},
    "small": dict(block_out_channels=(16, 32, 64), layers_per_block=1, norm_num_groups=8,
                  attention_levels=(False, False, True)),
    # Half the small widths (~0.18 M parameters): a cheap guide for autoguidance, which works best with a
    # smaller, shorter-trained version of the main model (Karras et al. 2024, arXiv 2406.02507, sec. 3).
    "xs": dict(block_out_channels=(8, 16, 32), layers_per_block=1, norm_num_groups=4,
               attention_levels=(False, False, True)),
}


def _block_types(cfg: UNetConfig, *, cross: bool) -> tuple[tuple[str, ...], tuple[str, ...]]:
    attn_down = "CrossAttnDownBlock2D" if cross else "AttnDownBlock2D"
    attn_up = "CrossAttnUpBlock2D" if cross else "AttnUpBlock2D"
    down = tuple(attn_down if a else "DownBlock2D" for a in cfg.attention_levels)
    up = tuple(attn_up if a else "UpBlock2D" for a in reversed(cfg.attention_levels))
    return down, up


def build_unet(cfg: UNetConfig) -> nn.Module:
    """The diffusers network for ``cfg``: ``UNet2DModel`` (class / none) or ``UNet2DConditionModel`` (text)."""
    from diffusers import UNet2DConditionModel, UNet2DModel

    common = dict(sample_size=cfg.sample_size, in_channels=cfg.in_channels, out_channels=cfg.in_channels,
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
def to_model_space(images: torch.Tensor) -> torch.Tensor:
    """(B, 1, 28, 28) in [0, 1] (or uint8) -> (B, 1, 32, 32) in [-1, 1]; the border is background (black)."""
    x = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
    x = F.pad(x, (PAD, PAD, PAD, PAD), value=0.0)
    return x * 2.0 - 1.0


def from_model_space(x: torch.Tensor) -> torch.Tensor:
    """(B, 1, 32, 32) in [-1, 1] -> (B, 1, 28, 28) in [0, 1] (crop the padding, clamp)."""
    x = x[..., PAD:-PAD, PAD:-PAD]
    return ((x.float() + 1.0) / 2.0).clamp(0.0, 1.0)

