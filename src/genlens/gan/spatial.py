"""EqGAN-SA's spatial awareness: heatmap sampler, Spatial Encoding Layer, alignment loss.

Wang et al., "Improving GAN Equilibrium by Raising Spatial Awareness", CVPR 2022, arXiv 2112.00718.

* Heatmaps (sec. 3.2): fresh Gaussian blobs every forward pass, three levels. Level 1 has one centre
  c1 ~ clamp(N(0, 0.33^2), -0.75, 0.75) with sigma ~ U[0.5, 1]; level 2 has two centres c1 + U(-0.4, 0.4)
  with a smaller sigma; level 3 has four centres c1 + U(-0.8, 0.8) with a smaller sigma still (centres of
  levels 2 and 3 clamped to [-1, 1]). The shipped models draw sigma2 ~ U[0.25, 0.5], sigma3 ~ U[0.1, 0.25]
  (``SIGMA_RANGES``); the official code's sigma2 ~ (U[0, 1] + 0.1) / 1.4 and sigma3 ~ (U[0, 1] + 0.1) / 2
  per centre (wider, and overlapping level 1's) are ``OFFICIAL_SIGMA_RANGES``, drawn by
  :func:`sample_official_heatmaps` (inject it as ``Generator(heat_sampler=...)``). The shipped models hand
  each SEL a level's mean map (:class:`MeanHeatmaps`); the official code renders each centre as its own
  channel and passes each level through a two-conv encoder (K -> 16 -> 32 channels, 3x3, lrelu) at image
  resolution before the SELs resize it (:class:`HeatmapEncoder`, ``Generator(heat_encoder=HeatmapEncoder)``).
  One blob is ``exp(-||coord - c||^2 / sigma) + 0.01`` on a [-1, 1] grid (x = columns, y = rows); a level's map
  (B, 1, H, W) is the mean over its centres.
* SEL (eq. 2): ``dx = IN(x) * (1 + sigma(h)) + mu(h)``, ``out = x + 0.1 * conv(lrelu(dx))`` where h is the
  heatmap resized to the feature size and sigma, mu (one map each, broadcast over channels, as in the official
  code) come from a shared 3x3 conv (64 ch, lrelu).
* Alignment (eq. 3-4): Grad-CAM of D on the fake image at the D block matching each level (gradient of
  G's non-saturating loss, channel weights detached, CAM = sum_c relu(w_c A_c)), upsampled and min-max
  normalised (detached min and max), vs. the level's min-max normalised heatmap; L1 over the pixels whose error exceeds 0.25.

Heatmap centres live on the blob grid: [-1, 1] with -1 and 1 the *centres* of the border pixels. Users
give centres in the project's layout convention (x, y in [0, 1] of the canvas, x right, y down, pixel ``i``
spanning ``[i, i + 1)``: DESIGN.md "Layouts"); :func:`canvas_to_heat` and :func:`heat_to_canvas` convert.
Editing centres outside [-1, 1] are an error (:func:`render_heatmap` raises :class:`GenlensError`): the
generator never saw such centres, so silently clamping would make "move it there" quietly wrong.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from genlens.attribution.gradcam import normalize_cam, upsample_cam
from genlens.attribution.hooks import ActivationCapture
from genlens.errors import GenlensError
from genlens.gan.layers import EqualConv2d

LEVELS = (1, 2, 3)
CENTRES_PER_LEVEL = {1: 1, 2: 2, 3: 4}
SIGMA_RANGES = {1: (0.5, 1.0), 2: (0.25, 0.5), 3: (0.1, 0.25)}  # level -> U[lo, hi] of each centre's sigma
OFFICIAL_SIGMA_RANGES = {1: (0.5, 1.0), 2: (0.1 / 1.4, 1.1 / 1.4), 3: (0.1 / 2, 1.1 / 2)}
OFFSET = {2: 0.4, 3: 0.8}
CENTRE_STD, CENTRE_CLAMP, FLOOR = 0.33, 0.75, 0.01
ALIGN_THRESHOLD = 0.25


@dataclass
class Heatmaps:
    """Per-level heatmaps and the blobs they were drawn from."""

    maps: dict[int, torch.Tensor]  # level -> (B, 1, H, W)
    centers: dict[int, torch.Tensor]  # level -> (B, K, 2) as (x, y) in [-1, 1]
    sigmas: dict[int, torch.Tensor]  # level -> (B, K)

    def to(self, device: torch.device | str) -> Heatmaps:
        return Heatmaps({k: v.to(device) for k, v in self.maps.items()},
                        {k: v.to(device) for k, v in self.centers.items()},
                        {k: v.to(device) for k, v in self.sigmas.items()})

    @property
    def batch(self) -> int:
        return self.maps[1].shape[0]


def _grid(size: int, device: torch.device) -> torch.Tensor:
    lin = torch.linspace(-1.0, 1.0, size, device=device)
    yy, xx = torch.meshgrid(lin, lin, indexing="ij")
    return torch.stack([xx, yy], dim=-1)  # (H, W, 2) as (x, y)


def canvas_to_heat(xy: torch.Tensor, size: int) -> torch.Tensor:
    """Canvas coordinates (..., 2) in [0, 1] -> the blob grid's [-1, 1] (pixel centre (i + 0.5) / size -> the
    grid's i-th value -1 + 2 i / (size - 1)); the half pixel beyond the border pixels' centres is clamped."""
    px = torch.as_tensor(xy, dtype=torch.float32) * size - 0.5  # pixel index whose centre it is
    return (px * (2.0 / (size - 1)) - 1.0).clamp(-1.0, 1.0)


def heat_to_canvas(xy: torch.Tensor, size: int) -> torch.Tensor:
    """The blob grid's [-1, 1] (..., 2) -> canvas coordinates in [0, 1] (inverse of :func:`canvas_to_heat`)."""
    px = (torch.as_tensor(xy, dtype=torch.float32) + 1.0) * ((size - 1) / 2.0)
    return (px + 0.5) / size


def render_blobs(centers: torch.Tensor, sigmas: torch.Tensor, size: int) -> torch.Tensor:
    """(B, K, 2) centres and (B, K) sigmas -> (B, K, size, size): one blob per centre, unchecked."""
    grid = _grid(size, centers.device)  # (H, W, 2)
    d2 = (grid[None, None] - centers[:, :, None, None, :]).pow(2).sum(-1)  # (B, K, H, W)
    return torch.exp(-d2 / sigmas[:, :, None, None]) + FLOOR


def _render(centers: torch.Tensor, sigmas: torch.Tensor, size: int) -> torch.Tensor:
    return render_blobs(centers, sigmas, size).mean(dim=1, keepdim=True)  # (B, 1, H, W)


def render_heatmap(centers: torch.Tensor, sigmas: torch.Tensor, size: int) -> torch.Tensor:
    """(B, K, 2) centres (x, y) and (B, K) sigmas -> (B, 1, size, size), the mean of K blobs.

    Raises :class:`GenlensError` for a centre outside [-1, 1] (naming it) or a non-positive sigma.
    """
    centers = torch.as_tensor(centers, dtype=torch.float32)
    sigmas = torch.as_tensor(sigmas, dtype=torch.float32, device=centers.device)
    if centers.ndim != 3 or centers.shape[-1] != 2 or sigmas.shape != centers.shape[:2]:
        raise GenlensError(f"centers must be (B, K, 2) and sigmas (B, K); got {tuple(centers.shape)} and "
                           f"{tuple(sigmas.shape)}")
    bad = ~torch.isfinite(centers) | (centers.abs() > 1.0)
    if bad.any():
        b, k, _ = bad.nonzero()[0].tolist()
        x, y = centers[b, k].tolist()
        raise GenlensError(f"heatmap centre ({x:g}, {y:g}) is outside the image; use coordinates in [-1, 1] "
                           "(x left to right, y top to bottom)")
    if not (sigmas > 0).all():
        raise GenlensError("heatmap sigmas must be positive")
    return _render(centers, sigmas, size)


def sample_heatmaps(batch: int, *, size: int, generator: torch.Generator | None = None,
                    device: torch.device | str = "cpu", ranges: dict[int, tuple[float, float]] = SIGMA_RANGES
                    ) -> Heatmaps:
    """Draw the three levels for ``batch`` images from ``generator`` (all draws on the CPU, so the same seed
    gives the same heatmaps on every device); ``ranges``: level -> (lo, hi) of the uniform sigma draws."""
    g = generator if generator is not None and generator.device.type == "cpu" else None

    def uniform(shape: tuple[int, ...], lo: float, hi: float) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(shape, generator=g)

    c1 = (torch.randn(batch, 1, 2, generator=g) * CENTRE_STD).clamp(-CENTRE_CLAMP, CENTRE_CLAMP)
    centers = {1: c1}
    for level in (2, 3):
        k, off = CENTRES_PER_LEVEL[level], OFFSET[level]
        centers[level] = (c1 + uniform((batch, k, 2), -off, off)).clamp(-1.0, 1.0)
    drawn = {lv: uniform((batch, CENTRES_PER_LEVEL[lv]), *ranges[lv]) for lv in LEVELS}
    maps = {lv: _render(centers[lv], drawn[lv], size) for lv in LEVELS}
    return Heatmaps(maps, centers, drawn).to(device)


def sample_official_heatmaps(batch: int, **kwargs) -> Heatmaps:
    """:func:`sample_heatmaps` with the official code's wider sigmas for levels 2 and 3."""
    return sample_heatmaps(batch, ranges=OFFICIAL_SIGMA_RANGES, **kwargs)


class SpatialEncodingLayer(nn.Module):
    """SEL (eq. 2): modulate instance-normalised features by a heatmap, add back a small residual."""

    def __init__(self, channels: int, *, heat_channels: int = 1, hidden: int = 64, scale: float = 0.1) -> None:
        super().__init__()
        self.norm = nn.InstanceNorm2d(channels, affine=False)
        # equalised-lr convs, as the official code's Conv2dLayer (genlens.gan.layers)
        self.shared = nn.Sequential(EqualConv2d(heat_channels, hidden, 3), nn.LeakyReLU(0.2))
        # sigma and mu are one spatial map each, broadcast over the C feature channels, as in the official
        # code's SEL (Conv2dLayer(nhidden, 1, 3) for both): the heatmap says *where*, the features say *what*.
        # One conv with two output channels computes both.
        self.to_sigma_mu = EqualConv2d(hidden, 2, 3)
        self.out = EqualConv2d(channels, channels, 3)
        self.scale = scale

    def forward(self, x: torch.Tensor, heat: torch.Tensor) -> torch.Tensor:
        # x (B, C, h, w); heat (B, Kh, H, W) at any resolution
        heat = F.interpolate(heat, size=x.shape[-2:], mode="bilinear", align_corners=False)
        sigma, mu = self.to_sigma_mu(self.shared(heat)).chunk(2, dim=1)  # (B, 1, h, w) each
        dx = self.norm(x) * (1 + sigma) + mu
        return x + self.out(F.leaky_relu(dx, 0.2)) * self.scale


class MeanHeatmaps(nn.Module):
    """The shipped models' way into the SELs: each level's mean map (one channel per level, no parameters)."""

    features = 1

    def forward(self, heat: Heatmaps) -> list[torch.Tensor]:
        """-> one (B, 1, H, W) map per level, in ``LEVELS`` order."""
        return [heat.maps[lv] for lv in LEVELS]


class HeatmapEncoder(nn.Module):
    """The official code's heatmap encoder (genforce/eqgan-sa ``SynthesisNetwork.hm_conv*``): per level, the
    K per-centre blobs (K = 1, 2, 4) as K channels through a 3x3 conv to ``features // 2`` channels and
    another to ``features``, both leaky ReLU, at image resolution. The SEL of the block fed by a level gets
    that level's features; higher blocks get the three concatenated (``3 * features`` channels)."""

    def __init__(self, features: int = 32) -> None:
        super().__init__()
        self.features = features
        self.conv0 = nn.ModuleList(EqualConv2d(CENTRES_PER_LEVEL[lv], features // 2, 3) for lv in LEVELS)
        self.conv1 = nn.ModuleList(EqualConv2d(features // 2, features, 3) for lv in LEVELS)

    def forward(self, heat: Heatmaps) -> list[torch.Tensor]:
        """-> one (B, features, H, W) tensor per level, in ``LEVELS`` order."""
        size = heat.maps[1].shape[-1]
        out = []
        for i, lv in enumerate(LEVELS):
            blobs = render_blobs(heat.centers[lv], heat.sigmas[lv], size)
            h = F.leaky_relu(self.conv0[i](blobs), 0.2) * math.sqrt(2)  # official lrelu: gain sqrt(2)
            out.append(F.leaky_relu(self.conv1[i](h), 0.2))  # gain sqrt(2) * sqrt(0.5) = 1, as the official
        return out


@contextmanager
def frozen(module: nn.Module):
    """Parameters of ``module`` do not require grad inside (so no loss built here reaches their .grad)."""
    flags = [p.requires_grad for p in module.parameters()]
    module.requires_grad_(False)
    try:
        yield module
    finally:
        for p, f in zip(module.parameters(), flags, strict=True):
            p.requires_grad_(f)


@dataclass
class AlignmentResult:
    loss: torch.Tensor  # scalar, in G's graph
    logits: torch.Tensor  # (B, 1) D(fake), in G's graph (reuse it for G's adversarial loss)
    cams: dict[int, torch.Tensor]  # level -> (B, H, W) normalised CAM (detached)


def g_loss_score(logits: torch.Tensor) -> torch.Tensor:
    """The scalar whose Grad-CAM the alignment uses: G's non-saturating loss softplus(-D(fake)), summed."""
    return F.softplus(-logits).sum()


def alignment_loss(D: nn.Module, fake: torch.Tensor, heatmaps: Heatmaps, *, levels: tuple[int, ...] = LEVELS,
                   threshold: float = ALIGN_THRESHOLD,
                   cam_score: Callable[[torch.Tensor], torch.Tensor] = g_loss_score) -> AlignmentResult:
    """Sum over levels (weight 1 each) of the thresholded L1 between D's Grad-CAM and the heatmap.

    One forward pass of D captures the output of every level's block (``D.cam_layer(level)``); one gradient
    of ``cam_score(D(fake))`` w.r.t. all of them gives the channel weights (detached, so no second-order
    terms). The CAM then stays in G's graph through the captured activations only. Its min-max
    normalisation uses detached minimum and maximum, as the official code does: otherwise most of the
    alignment gradient flows into the two extreme pixels of each map (on the shipped 40-kimg models the
    two gradients w.r.t. the image have cosine 0.14) instead of reshaping the map.
    D's parameters are frozen while the graph is built, so back-propagating the loss reaches G (through
    ``fake``) and never D's .grad.

    ``cam_score`` (the issue's and the official code's :func:`g_loss_score`) differentiates G's loss
    softplus(-D(fake)): its gradient is -sigmoid(-D) times that of the logit, so with the per-channel relu
    the map keeps the channels whose activation lowers D's realness, where D sees evidence of *fake*
    (Grad-CAM's counterfactual map, Selvaraju et al. 2017, sec. 5). Measured and not adopted: the raw logit
    (plain Grad-CAM of "real"), experiments/gan_align_real.py.
    """
    size = tuple(fake.shape[-2:])
    total = fake.new_zeros(())
    cams: dict[int, torch.Tensor] = {}
    with frozen(D), ExitStack() as stack:
        caps = [stack.enter_context(ActivationCapture(D.cam_layer(level))) for level in levels]
        logits = D(fake)
        acts = [cap.output for cap in caps]
        grads = torch.autograd.grad(cam_score(logits), acts, retain_graph=True)
        for level, a, g in zip(levels, acts, grads, strict=True):
            weights = g.detach().mean(dim=(2, 3), keepdim=True)  # Grad-CAM channel weights (eq. 1)
            cam = normalize_cam(upsample_cam(F.relu(weights * a).sum(dim=1), size), detach_range=True)
            target = normalize_cam(heatmaps.maps[level].to(fake.device).squeeze(1)).detach()
            err = (cam - target).abs()
            mask = err > threshold
            total = total + (err * mask).sum() / mask.sum().clamp_min(1)
            cams[level] = cam.detach()
    return AlignmentResult(loss=total, logits=logits, cams=cams)
