"""Render one latent under many heatmaps, fast: the explorer's "drag the heatmap" loop.

With w fixed, everything StyleGAN2's modulation computes from w is fixed too (Karras et al. 2020,
arXiv 1912.04958, eq. 1-3): the style s = A(w), the modulated weight w'_ijk = s_i · w_ijk and its
demodulation 1 / sqrt(Σ_ik w'^2 + ε). :class:`FixedLatentRenderer` computes them once, plus the per-layer
noise, into *baked* layers that stand in for the generator's modulated convolutions (plain convolutions)
and Spatial Encoding Layers (the same maths with fewer kernels), inside a copy of the generator's module
tree. Each render then runs the generator's own forward pass (``Generator.synthesize``, ``GBlock.forward``,
whatever block class was injected): the output equals ``G.synthesize(w, heatmaps, ...)`` with the same
noise, and a batch of heatmaps renders the one latent under each of them in one pass.
"""
from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

from genlens.errors import GenlensError
from genlens.gan.layout import LayoutModulation
from genlens.gan.networks import Generator, ModulatedConv2d, StyledLayer
from genlens.gan.spatial import Heatmaps, SpatialEncodingLayer

NOISE_MODES = ("const", "none", "random")
_CL = torch.channels_last  # oneDNN runs NHWC convolutions without re-laying out activations on every call
SQRT2 = math.sqrt(2)


def _fixed(weight: torch.Tensor, bias: torch.Tensor | None, gain: float = 1.0) -> tuple[torch.Tensor, torch.Tensor | None]:
    return (weight * gain).contiguous(memory_format=_CL), None if bias is None else bias * gain


def _modulated(m: ModulatedConv2d, w: torch.Tensor, gain: float = 1.0) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The kernel and bias ``m`` applies for the one latent ``w`` (1, w_dim), times ``gain``."""
    styles = m.affine(w)[0]  # (in,)
    weight = m.weight * m.gain * styles[None, :, None, None]  # (out, in, k, k): eq. 1
    if m.demodulate:
        weight = weight * torch.rsqrt(weight.pow(2).sum(dim=(1, 2, 3), keepdim=True) + 1e-8)  # eq. 3
    return _fixed(weight, m.bias if m.demodulate else None, gain)


class BakedConv(nn.Module):
    """Stands in for a :class:`ModulatedConv2d` (here: to-RGB) at one fixed w; ignores the w it is given."""

    def __init__(self, m: ModulatedConv2d, w: torch.Tensor) -> None:
        super().__init__()
        self.weight, self.bias = _modulated(m, w)
        self.padding = m.padding

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight, self.bias, padding=self.padding)

    __call__ = forward  # no hooks on baked layers: skip nn.Module's call machinery (a few us per layer)


class BakedStyled(nn.Module):
    """Stands in for a :class:`StyledLayer` at one fixed w and one fixed noise image: conv, noise, lrelu.
    The sqrt(2) gain is folded into the kernel, bias and noise (lrelu(a) * sqrt(2) == lrelu(sqrt(2) * a))."""

    def __init__(self, layer: StyledLayer, w: torch.Tensor, res: int, noise_mode: str,
                 generator: torch.Generator | None) -> None:
        super().__init__()
        self.weight, self.bias = _modulated(layer.conv, w, SQRT2)
        self.padding = layer.conv.padding
        if noise_mode == "random":  # one draw, in the order G.synthesize draws it
            where = generator.device if generator is not None else w.device
            noise = torch.randn(1, 1, res, res, generator=generator, device=where).to(w.device)
        else:
            noise = layer.noise_const if noise_mode == "const" else None
        self.noise = None if noise is None else noise * (layer.noise_strength * SQRT2)

    def forward(self, x: torch.Tensor, w: torch.Tensor, *, noise_mode: str,
                generator: torch.Generator | None) -> torch.Tensor:
        x = F.conv2d(x, self.weight, self.bias, padding=self.padding)
        if self.noise is not None:
            x = x.add_(self.noise)
        return F.leaky_relu_(x, 0.2)

    __call__ = forward


class BakedSel(nn.Module):
    """``SpatialEncodingLayer.forward`` on equalised weights computed once, its residual scale folded into the
    output conv (same maths, fewer kernels)."""

    def __init__(self, sel: SpatialEncodingLayer) -> None:
        super().__init__()
        self.shared = _fixed(*sel.shared[0].effective())
        self.sigma_mu = _fixed(*sel.to_sigma_mu.effective())
        self.out = _fixed(*sel.out.effective(), sel.scale)
        self.eps = sel.norm.eps

    def forward(self, x: torch.Tensor, heat: torch.Tensor) -> torch.Tensor:
        if heat.shape[-2:] != x.shape[-2:]:
            heat = F.interpolate(heat, size=x.shape[-2:], mode="bilinear", align_corners=False)
        hidden = F.leaky_relu_(F.conv2d(heat.contiguous(memory_format=_CL), *self.shared, padding=1), 0.2)
        sigma_mu = F.conv2d(hidden, *self.sigma_mu, padding=1)
        var, mean = torch.var_mean(x, dim=(2, 3), keepdim=True, correction=0)  # instance norm, no affine
        normed = (x - mean).mul_(torch.rsqrt(var + self.eps))
        dx = torch.addcmul(sigma_mu[:, 1:2], normed, sigma_mu[:, 0:1] + 1)  # IN(x) * (1 + sigma) + mu
        return F.conv2d(F.leaky_relu_(dx, 0.2), *self.out, padding=1).add_(x)

    __call__ = forward


class BakedLayoutModulation(nn.Module):
    """``LayoutModulation.forward`` (SPADE) on equalised weights computed once, channels-last like the rest."""

    def __init__(self, mod: LayoutModulation) -> None:
        super().__init__()
        self.shared = _fixed(*mod.shared.effective(), SQRT2)  # lrelu gain folded in
        weight, bias = mod.to_gamma_beta.effective()
        c = weight.shape[0] // 2  # gamma and beta as two convs (each output channels-last), 1 + gamma folded in
        self.gamma = _fixed(weight[:c], bias[:c] + 1)
        self.beta = _fixed(weight[c:], bias[c:])
        self.eps = mod.norm.eps

    def forward(self, x: torch.Tensor, layout: torch.Tensor) -> torch.Tensor:
        hidden = F.leaky_relu_(F.conv2d(layout.contiguous(memory_format=_CL), *self.shared, padding=1), 0.2)
        x = x.contiguous(memory_format=_CL)  # the 4 px block's input is the (NCHW) constant
        var, mean = torch.var_mean(x, dim=(2, 3), keepdim=True, correction=0)  # instance norm, no affine
        normed = (x - mean).mul_(torch.rsqrt(var + self.eps))
        return torch.addcmul(F.conv2d(hidden, *self.beta), normed, F.conv2d(hidden, *self.gamma))

    __call__ = forward


def _shell(module: nn.Module) -> nn.Module:
    """A shallow copy of ``module`` whose children can be replaced without touching the original."""
    new = copy.copy(module)
    new._modules = dict(module._modules)
    return new


def _baked_block(block: nn.Module, w: torch.Tensor, res: int, noise_mode: str,
                 generator: torch.Generator | None) -> nn.Module:
    """``block`` (any injected block class) with its w-dependent layers and SELs baked, in declaration order
    (conv0 before conv1: the order G.synthesize draws noise)."""
    baked = _shell(block)
    for name, child in block.named_children():
        if isinstance(child, StyledLayer):
            setattr(baked, name, BakedStyled(child, w, res, noise_mode, generator))
        elif isinstance(child, ModulatedConv2d):
            setattr(baked, name, BakedConv(child, w))
        elif isinstance(child, SpatialEncodingLayer):
            setattr(baked, name, BakedSel(child))
        elif isinstance(child, LayoutModulation):
            setattr(baked, name, BakedLayoutModulation(child))
    return baked


class FixedLatentRenderer:
    """``renderer(heatmaps) -> images (H, C, 32, 32)`` in [-1, 1] for one fixed w (1, w_dim); for a layout GAN
    ``renderer(layout=channels)`` (its SPADE layers depend on the layout only: baked weights, same maths).

    ``noise_mode``: ``"const"`` (the generator's fixed noise buffers), ``"none"``, or ``"random"``: one noise
    draw from ``generator`` at construction, in the order ``G.synthesize`` draws it, then reused for every
    render (the same latent *and* noise under a moved heatmap). Call under ``torch.inference_mode()`` for
    speed; the weights are baked at construction, so rebuild the renderer after changing G.
    """

    def __init__(self, G: Generator, w: torch.Tensor, *, noise_mode: str = "const",
                 generator: torch.Generator | None = None) -> None:
        if noise_mode not in NOISE_MODES:
            raise GenlensError(f"noise_mode '{noise_mode}' is unknown; use one of: {', '.join(NOISE_MODES)}")
        if w.ndim != 2 or w.shape[0] != 1:
            raise GenlensError(f"a fixed-latent renderer takes one w of shape (1, w_dim), got {tuple(w.shape)}")
        self.w = w.detach()
        with torch.no_grad():
            self.G = _shell(G)
            self.G.blocks = nn.ModuleList(_baked_block(b, w, res, noise_mode, generator)
                                          for b, res in zip(G.blocks, G.config.resolutions, strict=True))

    def __call__(self, heatmaps: Heatmaps | None = None, *, layout: torch.Tensor | None = None) -> torch.Tensor:
        """The latent under each of ``heatmaps`` (SEL generators) or ``layout`` (B, K, 32, 32) (layout GANs)."""
        config = self.G.config
        if config.use_sel and heatmaps is None:
            raise GenlensError(f"a '{config.arch}' generator needs heatmaps to render")
        b = heatmaps.batch if heatmaps is not None else layout.shape[0] if layout is not None else 1
        return self.G.synthesize(self.w.expand(b, -1), heatmaps, layout=layout, noise_mode="const")
