"""Render one latent under many heatmaps, fast: the explorer's "drag the heatmap" loop.

With w fixed, everything StyleGAN2's modulation computes from w is fixed too (Karras et al. 2020,
arXiv 1912.04958, eq. 1-3): the style s = A(w), the modulated weight w'_ijk = s_i · w_ijk and its
demodulation 1 / sqrt(Σ_ik w'^2 + ε). :class:`FixedLatentRenderer` computes them once, plus the per-layer
noise, and then each render is plain convolutions: the Spatial Encoding Layers (the only part that sees
the heatmap) and the baked convolutions. The output equals ``G.synthesize(w, heatmaps, ...)`` with the same
noise, and a batch of heatmaps renders the one latent under each of them in one pass.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from genlens.errors import GenlensError
from genlens.gan.networks import Generator, ModulatedConv2d, StyledLayer
from genlens.gan.spatial import Heatmaps, SpatialEncodingLayer

NOISE_MODES = ("const", "none", "random")


_CL = torch.channels_last  # oneDNN runs NHWC convolutions without re-laying out activations on every call
SQRT2 = math.sqrt(2)


@dataclass
class _Conv:
    weight: torch.Tensor  # (out, in, k, k), channels-last; modulated (and demodulated) for this w
    bias: torch.Tensor | None
    padding: int


def _fixed(weight: torch.Tensor, bias: torch.Tensor | None, padding: int, gain: float = 1.0) -> _Conv:
    return _Conv((weight * gain).contiguous(memory_format=_CL), None if bias is None else bias * gain, padding)


@dataclass
class _Styled:
    conv: _Conv  # weight, bias already times sqrt(2): lrelu(a) * sqrt(2) == lrelu(sqrt(2) * a)
    noise: torch.Tensor | None  # (1, 1, res, res), scaled by the layer's noise strength (and sqrt(2))


@dataclass
class _Sel:
    """A Spatial Encoding Layer with its residual scale folded into the output conv."""

    shared: _Conv
    sigma_mu: _Conv
    out: _Conv  # weight and bias times the SEL's residual scale (0.1)
    eps: float


def _bake_conv(m: ModulatedConv2d, w: torch.Tensor, gain: float = 1.0) -> _Conv:
    styles = m.affine(w)[0]  # (in,)
    weight = m.weight * m.gain * styles[None, :, None, None]  # (out, in, k, k): eq. 1
    if m.demodulate:
        weight = weight * torch.rsqrt(weight.pow(2).sum(dim=(1, 2, 3), keepdim=True) + 1e-8)  # eq. 3
    return _fixed(weight, m.bias if m.demodulate else None, m.padding, gain)


def _bake_styled(layer: StyledLayer, w: torch.Tensor, res: int, noise_mode: str,
                 generator: torch.Generator | None) -> _Styled:
    if noise_mode == "random":
        where = generator.device if generator is not None else w.device
        noise = torch.randn(1, 1, res, res, generator=generator, device=where).to(w.device)
    elif noise_mode == "const":
        noise = layer.noise_const
    else:
        noise = None
    noise = None if noise is None else noise * (layer.noise_strength * SQRT2)
    return _Styled(_bake_conv(layer.conv, w, SQRT2), noise)


def _bake_sel(sel: SpatialEncodingLayer) -> _Sel:
    shared = sel.shared[0]
    return _Sel(_fixed(*shared.effective(), 1), _fixed(*sel.to_sigma_mu.effective(), 1),
                _fixed(*sel.out.effective(), 1, sel.scale), sel.norm.eps)


def _conv(c: _Conv, x: torch.Tensor) -> torch.Tensor:
    return F.conv2d(x, c.weight, c.bias, padding=c.padding)


def _styled(s: _Styled, x: torch.Tensor) -> torch.Tensor:
    x = _conv(s.conv, x)
    if s.noise is not None:
        x = x.add_(s.noise)
    return F.leaky_relu_(x, 0.2)


def _sel(s: _Sel, x: torch.Tensor, heat: torch.Tensor) -> torch.Tensor:
    """``SpatialEncodingLayer.forward`` on baked weights (same maths, fewer kernels)."""
    if heat.shape[-2:] != x.shape[-2:]:
        heat = F.interpolate(heat, size=x.shape[-2:], mode="bilinear", align_corners=False)
    hidden = F.leaky_relu_(_conv(s.shared, heat.contiguous(memory_format=_CL)), 0.2)
    sigma_mu = _conv(s.sigma_mu, hidden)
    var, mean = torch.var_mean(x, dim=(2, 3), keepdim=True, correction=0)  # instance norm, no affine
    normed = (x - mean).mul_(torch.rsqrt(var + s.eps))
    dx = torch.addcmul(sigma_mu[:, 1:2], normed, sigma_mu[:, 0:1] + 1)  # IN(x) * (1 + sigma) + mu
    return _conv(s.out, F.leaky_relu_(dx, 0.2)).add_(x)


class FixedLatentRenderer:
    """``renderer(heatmaps) -> images (H, C, 32, 32)`` in [-1, 1] for one fixed w (1, w_dim).

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
        self.G = G
        self.blocks = []
        with torch.no_grad():
            for block, res in zip(G.blocks, (4, 8, 16, 32)):
                conv0 = None if block.conv0 is None else _bake_styled(block.conv0, w, res, noise_mode, generator)
                conv1 = _bake_styled(block.conv1, w, res, noise_mode, generator)
                torgb = _bake_conv(block.torgb, w)
                torgb = _Conv(torgb.weight, block.rgb_bias, torgb.padding)  # to-RGB: no demodulation, own bias
                sels = tuple(None if m is None else _bake_sel(m)
                             for m in (block.sel, getattr(block, "sel1", None), getattr(block, "sel_rgb", None)))
                self.blocks.append((block.first, sels, conv0, conv1, torgb))
            self.const = G.const.detach().contiguous(memory_format=_CL)

    def __call__(self, heatmaps: Heatmaps | None) -> torch.Tensor:
        G = self.G
        if G.config.use_sel and heatmaps is None:
            raise GenlensError(f"a '{G.config.arch}' generator needs heatmaps to render")
        b = heatmaps.batch if heatmaps is not None else 1
        x, rgb = self.const.expand(b, -1, -1, -1), None
        heats = G.block_heats(heatmaps) if heatmaps is not None else None
        for i, (first, (sel, sel1, sel_rgb), conv0, conv1, torgb) in enumerate(self.blocks):
            if not first:
                x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
            if sel is not None:
                x = _sel(sel, x, heats[i])
            if conv0 is not None:
                x = _styled(conv0, x)
                if sel1 is not None:
                    x = _sel(sel1, x, heats[i])
            x = _styled(conv1, x)
            y = _conv(torgb, x if sel_rgb is None else _sel(sel_rgb, x, heats[i]))
            if rgb is not None:
                y = y.add_(F.interpolate(rgb, scale_factor=2, mode="bilinear", align_corners=False))
            rgb = y
        return torch.tanh(rgb)
