"""Sampling, interpolation and heatmap editing with a trained generator.

Every function takes a seed: the latent z, the heatmaps and the per-pixel noise all come from
``torch.Generator(seed)`` draws on the CPU, so the same seed gives the same images. Editing (EqGAN-SA,
arXiv 2112.00718, sec. 4.4) renders the same latent and noise with one level's heatmap moved; the editing
correlation built on these pieces is :func:`genlens.gan.evaluate.editing_correlation` (kept for
experiments/gan_placed.py; ``genlens gan eval`` reports :func:`genlens.gan.evaluate.locator_editing`).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import torch

from genlens.data.layout import Layout
from genlens.errors import GenlensError
from genlens.gan.layout import layout_channels
from genlens.gan.networks import Generator
from genlens.gan.spatial import LEVELS, Heatmaps, canvas_to_heat, heat_to_canvas, render_heatmap

NOISE_OFFSET = 1_000_003  # noise stream seed = seed + this, so z/heatmaps and noise never share draws


def _device(G: Generator) -> torch.device:
    return G.const.device


def latents(G: Generator, n: int, seed: int) -> tuple[torch.Tensor, Heatmaps | None]:
    """``n`` latents z (n, z_dim) and, for SEL generators, heatmaps, drawn from ``seed``."""
    if n < 1:
        raise GenlensError(f"n must be at least 1, got {n}")
    g = torch.Generator().manual_seed(int(seed))
    z = torch.randn(n, G.config.z_dim, generator=g)
    heat = G.sample_heatmaps(n, generator=g) if G.config.use_sel else None
    return z.to(_device(G)), None if heat is None else heat.to(_device(G))


@torch.no_grad()
def render(G: Generator, z: torch.Tensor, heatmaps: Heatmaps | None, *, seed: int,
           layout: torch.Tensor | None = None, labels: torch.Tensor | None = None) -> torch.Tensor:
    """G(z, heatmaps | layout[, labels]) with noise from ``seed`` (same seed, same noise): (B, C, S, S) in
    [-1, 1]."""
    g = torch.Generator().manual_seed(int(seed) + NOISE_OFFSET)
    return G(z, heatmaps, layout=layout, labels=labels, generator=g)


def to01(images: torch.Tensor) -> torch.Tensor:
    """Generator output in [-1, 1] -> [0, 1] (clamped)."""
    return (images.clamp(-1, 1) + 1) / 2


def sample(G: Generator, n: int, seed: int, *, layout: Layout | None = None,
           label: int | None = None) -> torch.Tensor:
    """``n`` images (n, C, S, S) in [-1, 1]; a layout GAN draws all ``n`` for the one ``layout``, a
    class-conditional one for class ``label`` (None: the class-agnostic mean embedding)."""
    z, heat = latents(G, n, seed)
    labels = None if label is None else torch.full((n,), int(label), dtype=torch.long, device=z.device)
    return render(G, z, heat, seed=seed, layout=_channels(G, layout, n), labels=labels)


def _channels(G: Generator, layout: Layout | None, n: int) -> torch.Tensor | None:
    """The layout's channels repeated ``n`` times, on G's device (None when there is no layout: G says if it
    needs one)."""
    if layout is None:
        return None
    if not G.config.use_layout:
        raise GenlensError(f"a '{G.config.arch}' generator takes no layout; use a layout GAN "
                           "(scenes-gan-layout) or drop --layout")
    return layout_channels(G.config, [layout]).expand(n, -1, -1, -1).to(_device(G))


@dataclass
class LayoutEdit:
    """One latent (and noise) drawn for a layout and for the layout with items moved."""

    original: torch.Tensor  # (n, C, H, W) in [-1, 1]
    edited: torch.Tensor
    before: Layout
    after: Layout


def move_items(layout: Layout, moves: Sequence[tuple[int, tuple[float, float]]]) -> Layout:
    """``layout`` with item ``i``'s centre set to (x, y) for each ``(i, (x, y))`` (canvas units, unclamped)."""
    for index, (x, y) in moves:
        if not 0 <= index < len(layout):
            raise GenlensError(f"the layout has {len(layout)} items; move index {index} is out of range "
                               f"(use 0..{len(layout) - 1})")
        it = layout.items[index]
        layout = layout.moved(index, float(x) - it.x, float(y) - it.y)
    return layout


def edit_layout(G: Generator, seed: int, layout: Layout, after: Layout, *, n: int = 1) -> LayoutEdit:
    """``n`` latents of ``seed`` drawn for ``layout`` and again, with the same latents and noise, for ``after``
    (e.g. :func:`move_items` of it; Make-A-Scene-style editing, Gafni et al. 2022)."""
    z, heat = latents(G, n, seed)
    return LayoutEdit(render(G, z, heat, seed=seed, layout=_channels(G, layout, n)),
                      render(G, z, heat, seed=seed, layout=_channels(G, after, n)), layout, after)


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between rows of ``a`` and ``b`` (Shoemake 1985); t (T,) -> (T, D)."""
    an, bn = a / a.norm(dim=-1, keepdim=True), b / b.norm(dim=-1, keepdim=True)
    omega = torch.acos((an * bn).sum(-1).clamp(-1 + 1e-7, 1 - 1e-7))
    so = torch.sin(omega)
    t = t[:, None]
    return (torch.sin((1 - t) * omega) / so) * a + (torch.sin(t * omega) / so) * b


@torch.no_grad()
def interpolate(G: Generator, seed_a: int, seed_b: int, *, steps: int = 8, space: str = "z",
                layout: Layout | None = None) -> torch.Tensor:
    """``steps`` images from seed_a's latent to seed_b's: slerp in z or lerp in w. Heatmaps (or the one
    ``layout`` of a layout GAN) and noise stay those of ``seed_a``, so only the latent changes."""
    if space not in ("z", "w"):
        raise GenlensError(f"unknown interpolation space '{space}'; use z (slerp) or w (lerp)")
    if steps < 2:
        raise GenlensError(f"steps must be at least 2, got {steps}")
    za, heat = latents(G, 1, seed_a)
    zb, _ = latents(G, 1, seed_b)
    t = torch.linspace(0, 1, steps, device=za.device)
    heat = None if heat is None else _repeat(heat, steps)
    lay = _channels(G, layout, steps)
    g = torch.Generator().manual_seed(int(seed_a) + NOISE_OFFSET)
    if space == "z":
        return G(slerp(za, zb, t), heat, layout=lay, generator=g)
    wa, wb = G.mapping(za), G.mapping(zb)
    return G.synthesize(torch.lerp(wa, wb, t[:, None]), heat, layout=lay, generator=g)


def _repeat(heat: Heatmaps, n: int) -> Heatmaps:
    rep = {k: v.expand(n, *v.shape[1:]).contiguous() for k, v in heat.maps.items()}
    return Heatmaps(rep, {k: v.expand(n, *v.shape[1:]) for k, v in heat.centers.items()},
                    {k: v.expand(n, *v.shape[1:]) for k, v in heat.sigmas.items()})


def move_level(heat: Heatmaps, level: int, center: tuple[float, float], *, size: int) -> Heatmaps:
    """Translate ``level``'s centres so that their mean lands on ``center`` (x, y in [-1, 1]); the other
    levels are kept. Sub-centres of levels 2/3 pushed past the border are clamped to [-1, 1]."""
    if level not in LEVELS:
        raise GenlensError(f"unknown heatmap level {level}; use 1, 2 or 3")
    x, y = (float(v) for v in center)
    if not (-1.0 <= x <= 1.0 and -1.0 <= y <= 1.0):
        raise GenlensError(f"centre ({x:g}, {y:g}) is outside the image; use x,y in [-1, 1] "
                           "(x left to right, y top to bottom)")
    target = torch.tensor([x, y], device=heat.centers[level].device)
    old = heat.centers[level]
    moved = (old + (target - old.mean(dim=1, keepdim=True))).clamp(-1.0, 1.0)
    centers, maps = dict(heat.centers), dict(heat.maps)
    centers[level] = moved
    maps[level] = render_heatmap(moved, heat.sigmas[level], size)
    return Heatmaps(maps, centers, dict(heat.sigmas))


@dataclass
class EditResult:
    original: torch.Tensor  # (1, C, H, W) in [-1, 1]
    edited: torch.Tensor  # (1, C, H, W)
    before: Heatmaps
    after: Heatmaps
    level: int = 1

    PANELS: ClassVar[tuple[str, ...]] = ("original", "edited", "heatmap_before", "heatmap_after")

    def panels(self) -> torch.Tensor:
        """(4, C, H, W) in [0, 1], in ``PANELS`` order: the original and edited images, and the moved level's
        heatmap before and after (each scaled to a maximum of 1)."""
        heat = torch.cat([self.before.maps[self.level], self.after.maps[self.level]])
        heat = heat / heat.amax(dim=(1, 2, 3), keepdim=True)
        return torch.cat([to01(self.original), to01(self.edited), heat.expand(-1, self.original.shape[1], -1, -1)])

    def summary(self) -> dict[str, list[float]]:
        """The moved level's mean centre before the move and the centre of mass of |change|, as (x, y) in
        canvas coordinates ([0, 1], x right, y down)."""
        size = self.original.shape[-1]
        before = self.before.centers[self.level][0].mean(0)
        com = change_center_of_mass(self.original, self.edited)[0]
        return {"center_before": heat_to_canvas(before, size).tolist(),
                "change_center_of_mass": heat_to_canvas(com, size).tolist()}


def edit(G: Generator, seed: int, *, center: tuple[float, float], level: int = 1) -> EditResult:
    """Render seed's latent twice, with its heatmaps as sampled and with ``level`` moved to ``center``:
    x, y in [0, 1] of the canvas (x right, y down; DESIGN.md "Layouts"), outside it an error."""
    if not G.config.use_sel:
        raise GenlensError(f"a '{G.config.arch}' generator has no heatmap input to edit; "
                           "use an eqgan-sa or sel-only model")
    x, y = (float(v) for v in center)
    if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
        raise GenlensError(f"centre ({x:g}, {y:g}) is outside the canvas; use x,y in [0, 1] (x right, y down)")
    z, heat = latents(G, 1, seed)
    target = tuple(canvas_to_heat(torch.tensor([x, y]), G.config.resolution).tolist())
    after = move_level(heat, level, target, size=G.config.resolution)
    return EditResult(render(G, z, heat, seed=seed), render(G, z, after, seed=seed), heat, after, level)


def change_center_of_mass(before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) pair -> (B, 2) centre of mass (x, y) of |after - before| in [-1, 1] coordinates
    (x = columns, y = rows, same grid as the heatmaps); an unchanged image gives (0, 0)."""
    change = (after - before).abs().sum(dim=1)  # (B, H, W)
    h, w = change.shape[-2:]
    ys = torch.linspace(-1, 1, h, device=change.device)
    xs = torch.linspace(-1, 1, w, device=change.device)
    mass = change.sum(dim=(1, 2)).clamp_min(1e-12)
    cx = (change.sum(dim=1) * xs).sum(dim=1) / mass
    cy = (change.sum(dim=2) * ys).sum(dim=1) / mass
    return torch.stack([cx, cy], dim=1)


def displacement_correlation(shifts: torch.Tensor, moves: torch.Tensor) -> float:
    """Pearson correlation between heatmap shifts d (N, 2) and change-centre offsets (N, 2), pooled over x
    and y; 1 means the change follows the heatmap perfectly."""
    a, b = shifts.flatten().double(), moves.flatten().double()
    a, b = a - a.mean(), b - b.mean()
    denom = (a.norm() * b.norm()).item()
    return float((a * b).sum() / denom) if denom > 0 else 0.0
