"""Rendering of fashion-scenes, vectorised over every item at once (the maths behind ``scenes.py``).

Conventions used here and by every consumer of scenes:
- pixel ``i`` covers the continuous interval ``[i, i + 1)``, so its centre is at ``i + 0.5``;
- an item's *box* is the tight box ``(x0, y0, x1, y1)`` (x1, y1 exclusive) of its nonzero pixels after
  rescaling (uint8 value > 0), and its *mask* is that set of nonzero pixels, before compositing;
- an item's *centre* is its box centre, ``((x0 + x1) / 2, (y0 + y1) / 2)`` pixels, or divided by the
  canvas side in ``[0, 1]`` units (x to the right, y down).

Each item is rendered once into a fixed ``P x P`` patch (its crop stretched onto an integer ``h x w``
rectangle at the top-left corner), so placing it is a pure integer translation and its box is known
before placement: positions are resampled until no two boxes overlap by more than the allowed IoU.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

SOURCE = 28  # Fashion-MNIST items are 28 x 28


def item_size_range(count: int) -> tuple[float, float]:
    """Longest side of an item's rescaled crop, as a fraction of the canvas side, for a scene of ``count``
    items: one item 40-75 %, two 30-50 %, three 25-40 % (four or more: 20-32 %)."""
    return {1: (0.40, 0.75), 2: (0.30, 0.50), 3: (0.25, 0.40)}.get(count, (0.20, 0.32))


def crop_boxes(items: torch.Tensor) -> torch.Tensor:
    """Tight boxes ``(x0, y0, x1, y1)`` of the nonzero pixels of uint8 items (M, 28, 28) -> (M, 4) int64.
    An all-zero item gets the full frame."""
    return mask_boxes(items > 0, empty_full=True)


def mask_boxes(mask: torch.Tensor, *, empty_full: bool = False) -> torch.Tensor:
    """Tight boxes of boolean masks (M, H, W) -> (M, 4) int64 ``(x0, y0, x1, y1)``; an empty mask gives
    zeros (or the full frame with ``empty_full``)."""
    _, h, w = mask.shape
    cols, rows = mask.any(1), mask.any(2)  # (M, W), (M, H)
    ar_w, ar_h = torch.arange(w), torch.arange(h)
    x0 = torch.where(cols, ar_w, w).amin(1)
    x1 = torch.where(cols, ar_w + 1, 0).amax(1)
    y0 = torch.where(rows, ar_h, h).amin(1)
    y1 = torch.where(rows, ar_h + 1, 0).amax(1)
    out = torch.stack([x0, y0, x1, y1], 1)
    empty = ~cols.any(1)
    fill = torch.tensor([0, 0, w, h]) if empty_full else torch.zeros(4, dtype=torch.long)
    return torch.where(empty[:, None], fill, out)


def target_shapes(crops: torch.Tensor, fractions: torch.Tensor, canvas: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Integer (h, w) of each rescaled crop: the longest side is ``round(fraction * canvas)`` pixels and the
    aspect ratio of the crop is kept (the other side at least 1 px)."""
    cw = (crops[:, 2] - crops[:, 0]).float()
    ch = (crops[:, 3] - crops[:, 1]).float()
    longest = (fractions * canvas).round().clamp(min=2)
    scale = longest / torch.maximum(cw, ch)
    h = (ch * scale).round().clamp(min=1).long()
    w = (cw * scale).round().clamp(min=1).long()
    return h, w


def render_patches(items: torch.Tensor, crops: torch.Tensor, h: torch.Tensor, w: torch.Tensor, patch: int,
                   *, chunk: int = 2048) -> torch.Tensor:
    """Each item's crop stretched onto an ``h x w`` rectangle at the top-left of a ``patch x patch`` uint8
    patch (M, patch, patch); everything outside the rectangle is zero.

    Area-like resampling: bilinear samples on a grid ``ss`` times finer than the output, averaged over
    each output pixel, so shrinking does not alias. Items are rendered in groups of equal longest side
    ``L`` (the scale is the same on both axes, so ``L`` sets it): ``ss = ceil(28 / L)`` keeps the sample
    spacing at most one source pixel, and each group only computes its own ``L x L`` corner."""
    out = torch.zeros(items.shape[0], patch, patch, dtype=torch.uint8)
    longest = torch.maximum(h, w)
    for size in longest.unique().tolist():
        idx = (longest == size).nonzero().squeeze(1)
        ss = max(1, math.ceil(SOURCE / size))
        for s in range(0, idx.numel(), chunk):
            sel = idx[s : s + chunk]
            out[sel, :size, :size] = _render_group(items[sel], crops[sel], h[sel], w[sel], size, ss)
    return out


def _render_group(items: torch.Tensor, crops: torch.Tensor, h: torch.Tensor, w: torch.Tensor, size: int,
                  ss: int) -> torch.Tensor:
    n_sub = size * ss
    t = (torch.arange(n_sub, dtype=torch.float32) + 0.5) / ss  # sub-sample positions in output pixels
    c, hh, ww = crops.float(), h.float(), w.float()
    # source x = crop_x0 + (t / w) * crop_width, in source pixels; grid_sample wants [-1, 1] with
    # align_corners=False, i.e. 2 * x / 28 - 1.
    xs = c[:, 0:1] + t[None] / ww[:, None] * (c[:, 2:3] - c[:, 0:1])  # (B, n_sub)
    ys = c[:, 1:2] + t[None] / hh[:, None] * (c[:, 3:4] - c[:, 1:2])
    gx = (2 * xs / SOURCE - 1)[:, None, :].expand(-1, n_sub, -1)
    gy = (2 * ys / SOURCE - 1)[:, :, None].expand(-1, -1, n_sub)
    fine = F.grid_sample(items.float().unsqueeze(1), torch.stack([gx, gy], -1), mode="bilinear",
                         padding_mode="zeros", align_corners=False)
    coarse = F.avg_pool2d(fine, ss).squeeze(1)  # (B, size, size) in 0..255
    ar = torch.arange(size)
    inside = (ar[None, :, None] < h[:, None, None]) & (ar[None, None, :] < w[:, None, None])
    return (coarse * inside).round().clamp(0, 255).to(torch.uint8)


def pairwise_max_iou(boxes: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """Largest IoU between two present boxes of each scene: boxes (N, K, 4), present (N, K) -> (N,)."""
    a, b = boxes[:, :, None, :].float(), boxes[:, None, :, :].float()
    iw = (torch.minimum(a[..., 2], b[..., 2]) - torch.maximum(a[..., 0], b[..., 0])).clamp(min=0)
    ih = (torch.minimum(a[..., 3], b[..., 3]) - torch.maximum(a[..., 1], b[..., 1])).clamp(min=0)
    inter = iw * ih
    area = (boxes[..., 2] - boxes[..., 0]).float() * (boxes[..., 3] - boxes[..., 1]).float()
    union = area[:, :, None] + area[:, None, :] - inter
    iou = inter / union.clamp(min=1e-9)
    k = boxes.shape[1]
    pair = present[:, :, None] & present[:, None, :] & ~torch.eye(k, dtype=torch.bool)[None]
    return torch.where(pair, iou, torch.zeros(())).flatten(1).amax(1) if k > 1 else torch.zeros(boxes.shape[0])


def place(rel_boxes: torch.Tensor, h: torch.Tensor, w: torch.Tensor, present: torch.Tensor, canvas: int,
          max_iou: float, generator: torch.Generator, *, max_rounds: int = 500) -> torch.Tensor:
    """Integer top-left offsets (N, K, 2) ``(x, y)`` keeping every rectangle inside the canvas and every
    pair of placed boxes at IoU <= ``max_iou``; scenes that break the limit redraw all their positions."""
    n, k = present.shape
    offsets = torch.zeros(n, k, 2, dtype=torch.long)
    todo = torch.arange(n)
    for _ in range(max_rounds):
        if todo.numel() == 0:
            return offsets
        u = torch.rand(todo.numel(), k, 2, generator=generator)
        room = torch.stack([canvas - w[todo], canvas - h[todo]], -1) + 1  # positions per axis
        offsets[todo] = (u * room).floor().long()
        boxes = rel_boxes[todo] + offsets[todo].repeat(1, 1, 2)
        bad = pairwise_max_iou(boxes, present[todo]) > max_iou + 1e-9
        todo = todo[bad]
    raise RuntimeError(f"{todo.numel()} scenes found no placement with IoU <= {max_iou} in {max_rounds} rounds")


def paste(patches: torch.Tensor, offsets: torch.Tensor, canvas: int) -> torch.Tensor:
    """Translate uint8 patches (M, P, P) to integer offsets (M, 2) ``(x, y)`` on a zero canvas -> (M, C, C)."""
    p = patches.shape[-1]
    ar = torch.arange(canvas)
    px = ar[None, :] - offsets[:, 0:1]  # (M, C) patch column for each canvas column
    py = ar[None, :] - offsets[:, 1:2]
    ok = ((px >= 0) & (px < p))[:, None, :] & ((py >= 0) & (py < p))[:, :, None]
    idx = py.clamp(0, p - 1)[:, :, None] * p + px.clamp(0, p - 1)[:, None, :]  # (M, C, C)
    out = patches.flatten(1).gather(1, idx.flatten(1)).view(-1, canvas, canvas)
    return out * ok


def hsv_to_rgb(hsv: torch.Tensor) -> torch.Tensor:
    """(..., 3) hue, saturation, value in [0, 1] -> (..., 3) RGB in [0, 1] (the standard hexcone model)."""
    h, s, v = hsv.unbind(-1)
    k = lambda n: (n + h * 6) % 6  # noqa: E731
    f = lambda n: v - v * s * torch.clamp(torch.minimum(k(n), 4 - k(n)), 0, 1)  # noqa: E731
    return torch.stack([f(5), f(3), f(1)], -1)


def composite_gray(layers: torch.Tensor) -> torch.Tensor:
    """Grey scenes: each pixel is the brightest item there (max compositing). layers (N, K, H, W) uint8."""
    return layers.amax(1, keepdim=True)


def composite_rgb(layers: torch.Tensor, colours: torch.Tensor, background: torch.Tensor) -> torch.Tensor:
    """Colour scenes: alpha compositing in item order over a flat background, the item's intensity as its
    alpha: ``out = out * (1 - a) + colour * a``. layers (N, K, H, W) uint8, colours (N, K, 3), background
    (N, 3), all in [0, 1] -> uint8 (N, 3, H, W)."""
    n, k, hh, ww = layers.shape
    out = background[:, :, None, None].expand(n, 3, hh, ww).contiguous()
    alpha = layers.float().div_(255.0)
    for i in range(k):
        out.lerp_(colours[:, i, :, None, None].expand(n, 3, hh, ww), alpha[:, i : i + 1].expand(n, 3, hh, ww))
    return out.mul_(255).round_().clamp_(0, 255).to(torch.uint8)
