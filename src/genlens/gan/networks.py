"""A small StyleGAN2-style generator and a residual discriminator: 32x32 (Fashion-MNIST, scenes), 64 or 128 px.

StyleGAN2 (Karras et al., CVPR 2020, arXiv 1912.04958): mapping MLP z -> w, learned constant 4x4 input,
modulated 3x3 convolutions with weight demodulation (sec. 2.2, eq. 1-3), per-pixel noise inputs, skip
toRGB outputs summed over resolutions (fig. 7b), a residual discriminator with minibatch standard
deviation. ``arch="sel-only"`` adds EqGAN-SA's Spatial Encoding Layers before each block's convs;
``"eqgan-sa"`` adds them and the alignment loss (see :mod:`genlens.gan.spatial`); ``"layout"`` puts a
layout-conditioned SPADE layer there instead and shows D the layout (see :mod:`genlens.gan.layout`).

The official code's variants are injected into :class:`Generator` (timm's ``act_layer=`` pattern), written
once: ``block=LayerSelBlock`` (a SEL before every modulated conv and before to-RGB),
``heat_encoder=HeatmapEncoder`` (per-centre conv features instead of mean maps) and
``heat_sampler=sample_official_heatmaps`` (wider sigmas). The shipped models use the defaults.
"""
from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from genlens.errors import GenlensError
from genlens.gan.config import ALL_ARCHS, ARCHS, RESOLUTIONS, GanConfig
from genlens.gan.layers import EqualConv2d, EqualLinear, lrelu
from genlens.gan.layout import LayoutModulation, layout_pyramid
from genlens.gan.spatial import LEVELS, Heatmaps, MeanHeatmaps, SpatialEncodingLayer, sample_heatmaps

__all__ = ["ALL_ARCHS", "ARCHS", "RESOLUTIONS", "Discriminator", "GBlock", "GanConfig", "Generator", "LayerSelBlock"]


# --------------------------------------------------------------------------------------- generator
def part_name(part: Callable[..., object]) -> str:
    """A stable name for an injected class, function or ``functools.partial`` of them."""
    if isinstance(part, functools.partial):
        args = [part_name(a) if callable(a) else repr(a) for a in part.args]
        args += [f"{k}={part_name(v) if callable(v) else repr(v)}" for k, v in sorted(part.keywords.items())]
        return f"{part_name(part.func)}({', '.join(args)})"
    return getattr(part, "__qualname__", type(part).__qualname__)


def _pixel_norm(x: torch.Tensor) -> torch.Tensor:
    return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)


class MappingNetwork(nn.Module):
    """z -> w: pixel norm, then equalised-lr FC layers with lr multiplier 0.01 (StyleGAN2's mapping)."""

    LR_MUL = 0.01

    def __init__(self, z_dim: int, w_dim: int, layers: int, num_classes: int = 0) -> None:
        super().__init__()
        dims = [z_dim * (2 if num_classes else 1)] + [w_dim] * layers
        self.net = nn.ModuleList(EqualLinear(a, b, lr_mul=self.LR_MUL) for a, b in itertools.pairwise(dims))
        self.embed = nn.Embedding(num_classes, z_dim) if num_classes else None

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        x = _pixel_norm(z)
        if self.embed is not None:
            # class-conditional (as StyleGAN2-ADA's mapping): the class embedding, normalised like z, beside z;
            # without labels the mean embedding (a class-agnostic draw, for the tools that name no class)
            e = self.embed.weight.mean(0, keepdim=True).expand(z.shape[0], -1) if labels is None else \
                self.embed(labels.to(z.device))
            x = torch.cat([x, _pixel_norm(e)], dim=1)
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
    """Upsample (but the first), SEL on the input (SEL generators), conv0 (but the first), conv1, to-RGB,
    plus the upsampled skip image. ``after_conv0`` and ``before_rgb`` are where subclasses add layers.
    ``sel_layer(channels, heat_channels=, hidden=)`` builds the spatial layer (a SEL; SPADE for layouts)."""

    def __init__(self, in_ch: int, out_ch: int, w_dim: int, res: int, img_ch: int, *,
                 first: bool, sel_heat: int, sel_hidden: int,
                 sel_layer: Callable[..., nn.Module] = SpatialEncodingLayer) -> None:
        super().__init__()
        self.first = first
        self.sel_heat, self.sel_hidden, self.sel_layer = sel_heat, sel_hidden, sel_layer
        self.sel = self.make_sel(in_ch)
        self.conv0 = None if first else StyledLayer(in_ch, out_ch, w_dim, res)
        self.conv1 = StyledLayer(in_ch if first else out_ch, out_ch, w_dim, res)
        self.torgb = ModulatedConv2d(out_ch, img_ch, w_dim, kernel=1, demodulate=False)
        self.rgb_bias = nn.Parameter(torch.zeros(img_ch))

    def make_sel(self, channels: int) -> nn.Module | None:
        """A SEL on ``channels`` features, or None in a generator without heatmaps (``sel_heat=0``)."""
        if not self.sel_heat:
            return None
        return self.sel_layer(channels, heat_channels=self.sel_heat, hidden=self.sel_hidden)

    def after_conv0(self, x: torch.Tensor, heat: torch.Tensor | None) -> torch.Tensor:
        return x

    def before_rgb(self, x: torch.Tensor, heat: torch.Tensor | None) -> torch.Tensor:
        return x

    def forward(self, x, rgb, w, heat, *, noise_mode, generator):
        if not self.first:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        if self.sel is not None:
            x = self.sel(x, heat)
        if self.conv0 is not None:
            x = self.after_conv0(self.conv0(x, w, noise_mode=noise_mode, generator=generator), heat)
        x = self.conv1(x, w, noise_mode=noise_mode, generator=generator)
        y = self.torgb(self.before_rgb(x, heat), w) + self.rgb_bias[None, :, None, None]
        if rgb is not None:
            y = y + F.interpolate(rgb, scale_factor=2, mode="bilinear", align_corners=False)
        return x, y


class LayerSelBlock(GBlock):
    """The official code's SEL placement (genforce/eqgan-sa, training/networks.py: SynthesisLayer and
    ToRGBLayer each own a SEL): besides the block's input, one SEL after conv0 (``sel1``, not in the first
    block, whose only conv is conv1) and one before to-RGB (``sel_rgb``), so the heatmap also reaches each
    resolution's image output directly. Measured and not adopted: experiments/gan_variants.py."""

    def __init__(self, in_ch: int, out_ch: int, w_dim: int, res: int, img_ch: int, *,
                 first: bool, sel_heat: int, sel_hidden: int, **kw: Callable[..., nn.Module]) -> None:
        super().__init__(in_ch, out_ch, w_dim, res, img_ch, first=first, sel_heat=sel_heat, sel_hidden=sel_hidden,
                         **kw)
        self.sel1 = None if first else self.make_sel(out_ch)
        self.sel_rgb = self.make_sel(out_ch)

    def after_conv0(self, x: torch.Tensor, heat: torch.Tensor | None) -> torch.Tensor:
        return x if self.sel1 is None else self.sel1(x, heat)

    def before_rgb(self, x: torch.Tensor, heat: torch.Tensor | None) -> torch.Tensor:
        return x if self.sel_rgb is None else self.sel_rgb(x, heat)


class Generator(nn.Module):
    """z (B, z_dim) [+ heatmaps | + layout] -> images (B, C, S, S) in [-1, 1] (tanh), S = ``config.resolution``
    (one block per resolution from 4 px; the SEL heatmap levels feed 4, 8 and 16 px, every block above gets all three).

    ``arch="layout"``: ``layout`` (B, K, 32, 32) per-class blob channels (:mod:`genlens.gan.layout`), pooled to
    each block's resolution and fed to its SPADE layer.

    Injected parts (the defaults are the shipped models'): ``block``, the synthesis block class;
    ``heat_encoder``, a factory of the module turning :class:`Heatmaps` into each level's SEL input (it has a
    ``features`` attribute: channels per level); ``heat_sampler``, the function drawing training and
    sampling heatmaps, with :func:`~genlens.gan.spatial.sample_heatmaps`' signature.
    """

    def __init__(self, config: GanConfig, *, block: type[GBlock] = GBlock,
                 heat_encoder: Callable[[], nn.Module] = MeanHeatmaps,
                 heat_sampler: Callable[..., Heatmaps] = sample_heatmaps) -> None:
        super().__init__()
        self.config = config
        self.heat_sampler = heat_sampler
        # which parts were injected, by name: training checkpoints record it, so a resume with others is refused
        self.parts = {"block": part_name(block), "heat_encoder": part_name(heat_encoder),
                      "heat_sampler": part_name(heat_sampler)}
        c = config.g_channels
        self.mapping = MappingNetwork(config.z_dim, config.w_dim, config.mapping_layers, config.num_classes)
        self.const = nn.Parameter(torch.randn(1, c[0], 4, 4))
        self.heat_encoder = heat_encoder() if config.use_sel else None
        per_level = self.heat_encoder.features if config.use_sel else 0
        blocks = []
        layout = {"sel_layer": LayoutModulation} if config.use_layout else {}
        for i, res in enumerate(config.resolutions):
            # level 1 feeds 4 px, level 2 8 px, level 3 16 px; higher blocks get all three
            sel_heat = per_level if i < len(LEVELS) else per_level * len(LEVELS)
            if config.use_layout:
                sel_heat = len(config.class_names)
            blocks.append(block(c[max(i - 1, 0)], c[i], config.w_dim, res, config.img_channels,
                                first=i == 0, sel_heat=sel_heat, sel_hidden=config.sel_hidden, **layout))
        self.blocks = nn.ModuleList(blocks)

    def sample_heatmaps(self, batch: int, *, generator: torch.Generator | None = None,
                        device: torch.device | str | None = None) -> Heatmaps:
        """``batch`` heatmaps from ``generator`` (CPU draws), on ``device`` (default: G's)."""
        return self.heat_sampler(batch, size=self.config.resolution, generator=generator,
                                 device=self.const.device if device is None else device)

    def block_heats(self, heatmaps: Heatmaps) -> list[torch.Tensor]:
        """The SEL input of every block: level i's map (or encoded features) for block i < 3, all three
        concatenated for the blocks above."""
        per_level = self.heat_encoder(heatmaps)
        joint = torch.cat(per_level, dim=1)
        return [per_level[i] if i < len(LEVELS) else joint for i in range(len(self.blocks))]

    def spatial_inputs(self, batch: int, heatmaps: Heatmaps | None, layout: torch.Tensor | None,
                       generator: torch.Generator | None) -> list[torch.Tensor | None]:
        """Each block's spatial input: heatmaps (drawn when not given), the layout pyramid, or None."""
        if self.config.use_layout:
            if layout is None:
                raise GenlensError("a layout GAN needs a layout; pass --layout, e.g. \"Sneaker@0.25,0.7;Bag@0.7,0.3\"")
            return layout_pyramid(layout, self.config.resolutions)
        if layout is not None:
            raise GenlensError(f"a '{self.config.arch}' generator takes no layout; use a layout GAN "
                               "(scenes-gan-layout) or drop --layout")
        if not self.config.use_sel:
            return [None] * len(self.blocks)
        if heatmaps is None:
            heatmaps = self.sample_heatmaps(batch, generator=generator)
        return self.block_heats(heatmaps)

    def synthesize(self, w: torch.Tensor, heatmaps: Heatmaps | None = None, *, layout: torch.Tensor | None = None,
                   noise_mode: str = "random", generator: torch.Generator | None = None) -> torch.Tensor:
        heats = self.spatial_inputs(w.shape[0], heatmaps, layout, generator)
        x, rgb = self.const.expand(w.shape[0], -1, -1, -1), None
        for block, heat in zip(self.blocks, heats, strict=True):
            x, rgb = block(x, rgb, w, heat, noise_mode=noise_mode, generator=generator)
        return torch.tanh(rgb)

    def forward(self, z: torch.Tensor, heatmaps: Heatmaps | None = None, *, layout: torch.Tensor | None = None,
                labels: torch.Tensor | None = None, noise_mode: str = "random",
                generator: torch.Generator | None = None) -> torch.Tensor:
        """``labels`` (B,): the classes of a class-conditional G (None: the class-agnostic mean embedding)."""
        return self.synthesize(self.mapping(z, labels), heatmaps, layout=layout, noise_mode=noise_mode,
                               generator=generator)


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
    """images (B, C, S, S) -> raw logits (B, 1). Block ``b<r>`` takes r px to r/2: at 32 px ``b32``, ``b16``,
    ``b8`` (outputs 16, 8, 4 px); a 64 or 128-px canvas adds ``b64`` (and ``b128``) in front.
    ``arch="layout"``: ``D(images, layout)`` sees the layout channels concatenated to the image."""

    CAM_LAYERS: ClassVar[dict[int, str]] = {1: "b8", 2: "b16", 3: "b32"}  # heatmap level -> D block at that level's resolution

    def __init__(self, config: GanConfig) -> None:
        super().__init__()
        self.config = config
        c = config.d_channels
        self.fromrgb = EqualConv2d(config.img_channels + len(config.class_names) * config.use_layout, c[0], 1)
        self.BLOCKS = tuple(f"b{r}" for r in reversed(config.resolutions[1:]))  # canvas px down to 8 px
        for i, name in enumerate(self.BLOCKS):
            self.add_module(name, DBlock(c[i], c[i + 1]))
        extra = 1 if config.mbstd_group else 0
        self.conv = EqualConv2d(c[-1] + extra, c[-1], 3)
        self.fc = EqualLinear(c[-1] * 16, c[-1])
        self.out = EqualLinear(c[-1], 1)
        # class-conditional: a projection discriminator (Miyato & Koyama 2018, eq. 3), logit + <embed(y), phi(x)>
        self.embed = nn.Embedding(config.num_classes, c[-1]) if config.num_classes else None

    def cam_layer(self, level: int) -> nn.Module:
        if level not in self.CAM_LAYERS:
            raise GenlensError(f"unknown heatmap level {level}; use 1, 2 or 3")
        return getattr(self, self.CAM_LAYERS[level])

    def forward(self, img: torch.Tensor, layout: torch.Tensor | None = None,
                labels: torch.Tensor | None = None) -> torch.Tensor:
        """Logits; a class-conditional D adds the projection term for ``labels`` (None: the unconditional part,
        as EqGAN-SA's alignment loss and the DI measurement use it)."""
        if self.config.use_layout:
            if layout is None:
                raise GenlensError("a layout GAN's discriminator needs the layout of the images it judges")
            img = torch.cat([img, layout.to(img.dtype)], dim=1)
        x = lrelu(self.fromrgb(img))
        for name in self.BLOCKS:
            x = getattr(self, name)(x)
        if self.config.mbstd_group:
            x = minibatch_std(x, self.config.mbstd_group)
        x = lrelu(self.conv(x))
        x = lrelu(self.fc(x.flatten(1)))
        if self.embed is not None and labels is not None:
            return self.out(x) + (self.embed(labels.to(x.device)) * x).sum(1, keepdim=True) / math.sqrt(x.shape[1])
        return self.out(x)  # (B, 1)
