"""A small StyleGAN2-style generator and a residual discriminator for 32x32 Fashion-MNIST.

StyleGAN2 (Karras et al., CVPR 2020, arXiv 1912.04958): mapping MLP z -> w, learned constant 4x4 input,
modulated 3x3 convolutions with weight demodulation (sec. 2.2, eq. 1-3), per-pixel noise inputs, skip
toRGB outputs summed over resolutions (fig. 7b), a residual discriminator with minibatch standard
deviation. ``arch="sel-only"`` adds EqGAN-SA's Spatial Encoding Layers before each block's convs;
``"eqgan-sa"`` adds them and the alignment loss (see :mod:`genlens.gan.spatial`).
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from genlens.errors import GenlensError
from genlens.gan.layers import EqualConv2d, EqualLinear, lrelu
from genlens.gan.spatial import (
    LEVELS,
    HeatmapEncoder,
    Heatmaps,
    SpatialEncodingLayer,
    check_encoder,
    check_sigmas,
    sample_heatmaps,
)

ARCHS = ("stylegan2", "sel-only", "eqgan-sa")
# Where the Spatial Encoding Layers sit in G. "block": one per block, on the block's input (our first reading of
# "SEL before G's convolutions"; every model before this option). "layer": the official code's (genforce/eqgan-sa,
# training/networks.py: SynthesisLayer and ToRGBLayer each own a SEL): one before every modulated conv and one
# before to-RGB, so the heatmap also reaches each resolution's image output directly.
SEL_PLACEMENTS = ("block", "layer")
RESOLUTIONS = (4, 8, 16, 32)


@dataclass(frozen=True)
class GanConfig:
    arch: str = "eqgan-sa"
    z_dim: int = 128
    w_dim: int = 128
    mapping_layers: int = 4
    g_channels: tuple[int, ...] = (256, 256, 128, 64)  # at 4, 8, 16, 32
    d_channels: tuple[int, ...] = (64, 128, 256, 256)  # at 32, 16, 8, 4
    img_channels: int = 1
    mbstd_group: int = 4  # 0: no minibatch-std layer
    sel_hidden: int = 64
    heat_sigmas: str = "narrow"  # heatmap sigma ranges: narrow | official (genlens.gan.spatial.SIGMA_RANGES)
    heat_encoder: str = "mean"  # into the SELs: mean (a level's mean map) | conv (official per-centre encoder)
    heat_features: int = 32  # channels per level out of the conv heatmap encoder (the official code's 32)
    sel_placement: str = "block"  # block: one SEL per block, before its convs | layer: official, before every conv and to-RGB

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise GenlensError(f"unknown GAN arch '{self.arch}'; choose one of: {', '.join(ARCHS)}")
        for name in ("g_channels", "d_channels"):
            chans = getattr(self, name)
            object.__setattr__(self, name, tuple(int(c) for c in chans))
            if len(chans) != len(RESOLUTIONS) or min(chans) < 1:
                raise GenlensError(f"{name} needs {len(RESOLUTIONS)} positive widths (for 4, 8, 16, 32 px)")
        check_sigmas(self.heat_sigmas)
        check_encoder(self.heat_encoder)
        if self.sel_placement not in SEL_PLACEMENTS:
            raise GenlensError(f"unknown SEL placement '{self.sel_placement}'; use one of: {', '.join(SEL_PLACEMENTS)}")
        if self.heat_features < 2:
            raise GenlensError("heat_features must be >= 2 (the encoder's first conv has heat_features // 2 channels)")
        if self.mbstd_group < 0:
            raise GenlensError("mbstd_group must be >= 0 (0 turns minibatch-std off)")

    @property
    def resolution(self) -> int:
        return RESOLUTIONS[-1]

    @property
    def use_sel(self) -> bool:
        return self.arch in ("sel-only", "eqgan-sa")

    @property
    def use_alignment(self) -> bool:
        return self.arch == "eqgan-sa"

    @classmethod
    def tiny(cls, arch: str = "eqgan-sa") -> GanConfig:
        """A few-thousand-parameter config for tests and smoke runs."""
        return cls(arch=arch, z_dim=16, w_dim=16, mapping_layers=2, g_channels=(16, 16, 8, 8),
                   d_channels=(8, 8, 16, 16), mbstd_group=2, sel_hidden=8)

    def with_arch(self, arch: str) -> GanConfig:
        return replace(self, arch=arch)


# --------------------------------------------------------------------------------------- generator
class MappingNetwork(nn.Module):
    """z -> w: pixel norm, then equalised-lr FC layers with lr multiplier 0.01 (StyleGAN2's mapping)."""

    LR_MUL = 0.01

    def __init__(self, z_dim: int, w_dim: int, layers: int) -> None:
        super().__init__()
        dims = [z_dim] + [w_dim] * layers
        self.net = nn.ModuleList(EqualLinear(a, b, lr_mul=self.LR_MUL) for a, b in itertools.pairwise(dims))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = z * torch.rsqrt(z.pow(2).mean(dim=1, keepdim=True) + 1e-8)  # pixel norm of z
        for fc in self.net:
            x = lrelu(fc(x))
        return x  # (B, w_dim)


class ModulatedConv2d(nn.Module):
    """StyleGAN2 eq. 1-3: w'_ijk = s_i w_ijk, demodulated by 1 / sqrt(sum_ik w'^2 + eps).

    Computed without per-sample weights, as StyleGAN2's non-fused path does: scale the input channels by the
    styles, convolve with the shared weight, then scale the output channels by the demodulation coefficients
    d_j = 1 / sqrt(sum_i s_i^2 sum_k w_ijk^2 + eps) (eq. 3 with the style factored out of the kernel sum).
    The same numbers as a grouped convolution with one group per sample, but one ordinary batched convolution:
    about 2x faster for a G training step on CPU (a 128->128 layer at 8x8: 8x)."""

    def __init__(self, in_ch: int, out_ch: int, w_dim: int, *, kernel: int = 3, demodulate: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel, kernel))
        self.affine = EqualLinear(w_dim, in_ch, bias_init=1.0)  # styles around 1 (StyleGAN2)
        self.bias = nn.Parameter(torch.zeros(out_ch))
        self.gain = 1 / math.sqrt(in_ch * kernel * kernel)  # equalised learning rate
        self.demodulate = demodulate
        self.padding = kernel // 2

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w)  # (B, in)
        weight = self.weight * self.gain
        out = F.conv2d(x * styles[:, :, None, None], weight, padding=self.padding)
        if not self.demodulate:
            return out
        dcoef = torch.rsqrt(styles.square() @ weight.square().sum(dim=(2, 3)).t() + 1e-8)  # (B, out): eq. 3
        return out * dcoef[:, :, None, None] + self.bias[None, :, None, None]


class StyledLayer(nn.Module):
    """Modulated conv + noise + bias + lrelu. Noise: ``"random"`` (from ``generator``), ``"const"`` (a
    fixed buffer, for editing), or ``"none"``."""

    def __init__(self, in_ch: int, out_ch: int, w_dim: int, res: int) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(in_ch, out_ch, w_dim)
        self.noise_strength = nn.Parameter(torch.zeros(()))
        self.register_buffer("noise_const", torch.randn(1, 1, res, res, generator=torch.Generator().manual_seed(res)))

    def forward(self, x: torch.Tensor, w: torch.Tensor, *, noise_mode: str,
                generator: torch.Generator | None) -> torch.Tensor:
        x = self.conv(x, w)
        if noise_mode == "random":
            where = generator.device if generator is not None else x.device
            noise = torch.randn(x.shape[0], 1, *x.shape[-2:], generator=generator, device=where).to(x.device)
            x = x + noise * self.noise_strength
        elif noise_mode == "const":
            x = x + self.noise_const * self.noise_strength
        return F.leaky_relu(x, 0.2) * math.sqrt(2)


class GBlock(nn.Module):
    """Upsample (but the first), [SEL] conv0 (but the first), [SEL] conv1, [SEL] to-RGB, plus the skip image.

    ``sel``: the SEL on the block's input (both placements); ``sel1`` before conv1 and ``sel_rgb`` before
    to-RGB exist with ``placement="layer"`` only (``sel1`` not in the first block, whose only conv is conv1)."""

    def __init__(self, in_ch: int, out_ch: int, w_dim: int, res: int, img_ch: int, *,
                 first: bool, sel_heat: int, sel_hidden: int, placement: str = "block") -> None:
        super().__init__()
        self.first = first

        def sel(ch: int) -> SpatialEncodingLayer:
            return SpatialEncodingLayer(ch, heat_channels=sel_heat, hidden=sel_hidden)

        per_layer = bool(sel_heat) and placement == "layer"
        self.sel = sel(in_ch) if sel_heat else None
        self.sel1 = sel(out_ch) if per_layer and not first else None
        self.sel_rgb = sel(out_ch) if per_layer else None
        self.conv0 = None if first else StyledLayer(in_ch, out_ch, w_dim, res)
        self.conv1 = StyledLayer(in_ch if first else out_ch, out_ch, w_dim, res)
        self.torgb = ModulatedConv2d(out_ch, img_ch, w_dim, kernel=1, demodulate=False)
        self.rgb_bias = nn.Parameter(torch.zeros(img_ch))

    def forward(self, x, rgb, w, heat, *, noise_mode, generator):
        if not self.first:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        if self.sel is not None:
            x = self.sel(x, heat)
        if self.conv0 is not None:
            x = self.conv0(x, w, noise_mode=noise_mode, generator=generator)
            if self.sel1 is not None:
                x = self.sel1(x, heat)
        x = self.conv1(x, w, noise_mode=noise_mode, generator=generator)
        y = self.torgb(x if self.sel_rgb is None else self.sel_rgb(x, heat), w) + self.rgb_bias[None, :, None, None]
        if rgb is not None:
            y = y + F.interpolate(rgb, scale_factor=2, mode="bilinear", align_corners=False)
        return x, y


class Generator(nn.Module):
    """z (B, z_dim) [+ heatmaps] -> images (B, C, 32, 32) in [-1, 1] (tanh)."""

    def __init__(self, config: GanConfig) -> None:
        super().__init__()
        self.config = config
        c = config.g_channels
        self.mapping = MappingNetwork(config.z_dim, config.w_dim, config.mapping_layers)
        self.const = nn.Parameter(torch.randn(1, c[0], 4, 4))
        encoded = config.use_sel and config.heat_encoder == "conv"
        self.heat_encoder = HeatmapEncoder(config.heat_features) if encoded else None
        per_level = config.heat_features if encoded else 1
        blocks = []
        for i, res in enumerate(RESOLUTIONS):
            # level 1 feeds 4 px, level 2 8 px, level 3 16 px; higher blocks get all three
            sel_heat = (per_level if i < len(LEVELS) else per_level * len(LEVELS)) if config.use_sel else 0
            blocks.append(GBlock(c[max(i - 1, 0)], c[i], config.w_dim, res, config.img_channels,
                                 first=i == 0, sel_heat=sel_heat, sel_hidden=config.sel_hidden,
                                 placement=config.sel_placement))
        self.blocks = nn.ModuleList(blocks)

    def sample_heatmaps(self, batch: int, *, generator: torch.Generator | None = None) -> Heatmaps:
        return sample_heatmaps(batch, size=self.config.resolution, generator=generator,
                               device=self.const.device, sigmas=self.config.heat_sigmas)

    def block_heats(self, heatmaps: Heatmaps) -> list[torch.Tensor]:
        """The SEL input of every block: level i's map (or encoded features) for block i < 3, all three
        concatenated for the blocks above."""
        if self.heat_encoder is not None:
            per_level = self.heat_encoder(heatmaps)
        else:
            per_level = [heatmaps.maps[lv] for lv in LEVELS]
        joint = torch.cat(per_level, dim=1)
        return [per_level[i] if i < len(LEVELS) else joint for i in range(len(self.blocks))]

    def synthesize(self, w: torch.Tensor, heatmaps: Heatmaps | None = None, *, noise_mode: str = "random",
                   generator: torch.Generator | None = None) -> torch.Tensor:
        if self.config.use_sel and heatmaps is None:
            heatmaps = self.sample_heatmaps(w.shape[0], generator=generator)
        x, rgb = self.const.expand(w.shape[0], -1, -1, -1), None
        heats = self.block_heats(heatmaps) if self.config.use_sel else [None] * len(self.blocks)
        for i, block in enumerate(self.blocks):
            heat = heats[i] if block.sel is not None else None
            x, rgb = block(x, rgb, w, heat, noise_mode=noise_mode, generator=generator)
        return torch.tanh(rgb)

    def forward(self, z: torch.Tensor, heatmaps: Heatmaps | None = None, *, noise_mode: str = "random",
                generator: torch.Generator | None = None) -> torch.Tensor:
        return self.synthesize(self.mapping(z), heatmaps, noise_mode=noise_mode, generator=generator)


# ----------------------------------------------------------------------------------- discriminator
class DBlock(nn.Module):
    """Residual block: two 3x3 convs then 2x average-pool; skip = pool + 1x1 conv; sum / sqrt(2)."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.conv0 = EqualConv2d(in_ch, in_ch, 3)
        self.conv1 = EqualConv2d(in_ch, out_ch, 3)
        self.skip = EqualConv2d(in_ch, out_ch, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = lrelu(self.conv0(x))
        y = F.avg_pool2d(lrelu(self.conv1(y)), 2)
        return (y + self.skip(F.avg_pool2d(x, 2))) / math.sqrt(2)


def minibatch_std(x: torch.Tensor, group: int) -> torch.Tensor:
    """Append the mean (over features) of the std over groups of ``group`` samples as one channel."""
    b, c, h, w = x.shape
    g = min(group, b)
    while b % g:
        g -= 1
    y = x.reshape(g, -1, c, h, w)
    std = (y.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))  # (B / g,)
    std = std.reshape(1, -1, 1, 1, 1).expand(g, -1, 1, h, w).reshape(b, 1, h, w)
    return torch.cat([x, std], dim=1)


class Discriminator(nn.Module):
    """images (B, C, 32, 32) -> raw logits (B, 1). Blocks ``b32``, ``b16``, ``b8`` output 16, 8, 4 px."""

    BLOCKS: ClassVar[tuple[str, ...]] = ("b32", "b16", "b8")
    CAM_LAYERS: ClassVar[dict[int, str]] = {1: "b8", 2: "b16", 3: "b32"}  # heatmap level -> D block at that level's resolution

    def __init__(self, config: GanConfig) -> None:
        super().__init__()
        self.config = config
        c = config.d_channels
        self.fromrgb = EqualConv2d(config.img_channels, c[0], 1)
        self.b32, self.b16, self.b8 = DBlock(c[0], c[1]), DBlock(c[1], c[2]), DBlock(c[2], c[3])
        extra = 1 if config.mbstd_group else 0
        self.conv = EqualConv2d(c[3] + extra, c[3], 3)
        self.fc = EqualLinear(c[3] * 16, c[3])
        self.out = EqualLinear(c[3], 1)

    def cam_layer(self, level: int) -> nn.Module:
        if level not in self.CAM_LAYERS:
            raise GenlensError(f"unknown heatmap level {level}; use 1, 2 or 3")
        return getattr(self, self.CAM_LAYERS[level])

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        x = lrelu(self.fromrgb(img))
        for name in self.BLOCKS:
            x = getattr(self, name)(x)
        if self.config.mbstd_group:
            x = minibatch_std(x, self.config.mbstd_group)
        x = lrelu(self.conv(x))
        x = lrelu(self.fc(x.flatten(1)))
        return self.out(x)  # (B, 1)


def build(config: GanConfig) -> tuple[Generator, Discriminator]:
    return Generator(config), Discriminator(config)
