"""The layout-conditioned GAN (``arch="layout"``): objects where the layout says, fast enough to drag.

The generator takes the layout diffusion model's input, per-class blob channels
(:func:`genlens.data.layout.render_layout`, mode ``blobs``: one channel per class, a Gaussian per item at its
centre with sigma = size / 4), average-pooled to each synthesis resolution and injected before each block's
convolutions by spatially-adaptive normalisation (SPADE, Park et al., CVPR 2019, arXiv 1903.07291, eq. 1):
``out = IN(x) * (1 + gamma(m)) + beta(m)`` with per-channel, per-pixel gamma and beta computed from the
layout m by a shared 3x3 conv (lrelu) and a 1x1 conv (1x1 rather than the paper's 3x3: at 32 px it is 9x
cheaper, and the 3x3 hidden conv already sees each pixel's neighbourhood). Unlike EqGAN-SA's SEL, whose
single sigma and mu maps say only *where*, per-channel gamma and beta say *what* goes there too.

The discriminator sees the image concatenated with the layout channels (Mirza & Osindero 2014's conditional
GAN, by input concatenation), so an object in the wrong place or of the wrong class is evidence of a fake.
Training pairs each real scene with its own layout and each fake with the layout of another real scene drawn
at random (the empirical layout distribution). Layouts are read from fashion-scenes' ground truth
(:func:`genlens.data.layout.scene_layouts`).
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from genlens.data.base import ImageData
from genlens.data.layout import Layout, render_layout, scene_layouts, validate_layout
from genlens.errors import GenlensError
from genlens.gan.config import GanConfig
from genlens.gan.layers import EqualConv2d

LAYOUT_MODE = "blobs"  # the layout diffusion model's conditioning channels


class LayoutModulation(nn.Module):
    """SPADE (Park et al. 2019, eq. 1): IN(x) * (1 + gamma(m)) + beta(m), gamma and beta (B, C, h, w) from the
    layout m (B, K, h, w) already at x's resolution. ``heat_channels``: K; ``hidden``: the shared conv's width."""

    def __init__(self, channels: int, *, heat_channels: int, hidden: int = 64) -> None:
        super().__init__()
        self.norm = nn.InstanceNorm2d(channels, affine=False)
        self.shared = EqualConv2d(heat_channels, hidden, 3)
        self.to_gamma_beta = EqualConv2d(hidden, 2 * channels, 1)

    def forward(self, x: torch.Tensor, layout: torch.Tensor) -> torch.Tensor:
        hidden = F.leaky_relu(self.shared(layout), 0.2) * math.sqrt(2)
        gamma, beta = self.to_gamma_beta(hidden).chunk(2, dim=1)  # (B, C, h, w) each
        return self.norm(x) * (1 + gamma) + beta


def layout_pyramid(layout: torch.Tensor, resolutions: Sequence[int]) -> list[torch.Tensor]:
    """(B, K, S, S) layout channels -> one per resolution, area-averaged (no aliasing of small blobs)."""
    size = layout.shape[-1]
    return [layout if r == size else F.avg_pool2d(layout, size // r) for r in resolutions]


def layout_channels(config: GanConfig, layouts: Sequence[Layout]) -> torch.Tensor:
    """Layouts -> the generator's input (B, K, 32, 32): classes and item count checked (one-line errors)."""
    checked = []
    for layout in layouts:
        layout, _ = validate_layout(layout, num_classes=len(config.class_names), max_items=config.max_items)
        checked.append(layout)
    return render_layout(checked, num_classes=len(config.class_names), canvas=config.resolution, mode=LAYOUT_MODE)


class SceneLayouts:
    """``layouts(idx) -> (B, K, 32, 32)``: the layout channels of scenes ``idx`` of a data set with layouts,
    rendered on demand (60,000 scenes' channels would take 2.4 GB)."""

    def __init__(self, data: ImageData, config: GanConfig) -> None:
        self.config = config
        self.layouts = scene_layouts(data)

    def __len__(self) -> int:
        return len(self.layouts)

    def __call__(self, idx: torch.Tensor) -> torch.Tensor:
        return render_layout([self.layouts[i] for i in idx.tolist()], num_classes=len(self.config.class_names),
                             canvas=self.config.resolution, mode=LAYOUT_MODE)


def train_inputs(arch: str, data: ImageData, images: torch.Tensor, held_out: torch.Tensor | None,
                 *, size: str | None = "default", held_out_data: ImageData | None = None,
                 conditional: bool = False) -> dict:
    """The keyword arguments of :func:`genlens.gan.train.train_gan` for ``arch`` on ``data`` (its GAN images
    ``images``): the model config of ``size`` (``genlens.gan.config.SIZES``; image channels from the data, a
    layout GAN's classes and item limit from its layouts; ``None``: the size of the images' canvas) and, for
    ``arch="layout"``, the layouts, and those of ``held_out_data`` (the data set ``held_out`` came from) for DI;
    without them no DI is measured.
    ``conditional`` (other archs, data of 2+ classes): a class-conditional GAN and the data's ``labels``."""
    layout: dict = {}
    if arch == "layout":
        if not hasattr(data, "classes"):
            raise GenlensError(f"'{data.name}' has no layouts; a layout GAN trains on fashion-scenes "
                               "(--data fashion-scenes or fashion-scenes-rgb)")
        layout = {"class_names": data.class_names, "max_items": int(data.classes.shape[1])}
    elif conditional:
        layout = {"class_names": data.class_names}
    from genlens.gan.config import size_for

    canvas = int(images.shape[-1])
    base = GanConfig.sized(arch, size or size_for(canvas), canvas=canvas, **layout)
    config = dataclasses.replace(base, img_channels=int(images.shape[1]))
    out = {"model_config": config, "data": images, "held_out": held_out}
    if config.num_classes:
        out["labels"] = data.labels
    if config.use_layout:
        out["layouts"] = SceneLayouts(data, config)
        if held_out is not None and hasattr(held_out_data, "classes") and len(held_out_data) == len(held_out):
            out["held_out_layouts"] = SceneLayouts(held_out_data, config)
        else:
            out["held_out"] = None
    return out


def with_layout(D: Callable[..., torch.Tensor], layout: torch.Tensor | None,
                labels: torch.Tensor | None = None) -> Callable[[torch.Tensor], torch.Tensor]:
    """D with its layout (and a class-conditional D's labels) bound (``D(x)`` for R1 and the losses); D itself
    when there is neither."""
    return D if layout is None and labels is None else (lambda x: D(x, layout, labels))
