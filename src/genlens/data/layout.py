"""Layouts: where objects go. A list of items, each a class and a centre (x, y in [0, 1] of the canvas, x to
the right, y down) with an optional size (the longest side as a fraction of the canvas side).

Text form (the CLI's ``--layout``): ``"Sneaker@0.25,0.7;Bag@0.7,0.3"``; a third number sets the size
(``"Bag@0.7,0.3,0.4"``); a class is a name (case, spaces and underscores ignored) or an index.

Layouts become the conditioning input of layout-conditioned generators through :func:`render_layout`:
one channel per class holding a Gaussian blob per item (``blobs``) or a filled square (``masks``), in the
pixel convention of fashion-scenes (pixel ``i`` spans ``[i, i + 1)``, so the centre ``x`` in [0, 1] is
``x * canvas`` pixels). Functions return notes instead of printing: a centre outside the canvas is clamped
and said so in the notes.
"""
from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Sequence

import torch

from genlens.data.base import resolve_class
from genlens.errors import GenlensError

EXAMPLE = '"Sneaker@0.25,0.7;Bag@0.7,0.3"'
MODES = ("blobs", "masks")


@dataclasses.dataclass(frozen=True)
class LayoutItem:
    cls: int
    x: float
    y: float
    size: float | None = None  # longest side / canvas side; None: the typical size for the item count


@dataclasses.dataclass(frozen=True)
class Layout:
    items: tuple[LayoutItem, ...] = ()

    def __len__(self) -> int:
        return len(self.items)

    def to_text(self, class_names: Sequence[str]) -> str:
        """The text form, parseable by :func:`parse_layout` (names with spaces written with underscores)."""
        def one(it: LayoutItem) -> str:
            size = "" if it.size is None else f",{it.size:.4g}"
            return f"{class_names[it.cls].replace(' ', '_')}@{it.x:.4g},{it.y:.4g}{size}"

        return ";".join(one(it) for it in self.items)

    def moved(self, index: int, dx: float, dy: float) -> Layout:
        """The same layout with item ``index`` moved by (dx, dy) canvas units (not clamped)."""
        items = list(self.items)
        it = items[index]
        items[index] = dataclasses.replace(it, x=it.x + dx, y=it.y + dy)
        return Layout(tuple(items))


_NUMBER = r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
_ITEM = re.compile(rf"\s*([^@;]+?)\s*@\s*({_NUMBER})\s*,\s*({_NUMBER})\s*(?:,\s*({_NUMBER})\s*)?")


def parse_layout(text: str, class_names: Sequence[str], *,
                 max_items: int | None = None) -> tuple[Layout, list[str]]:
    """``"Sneaker@0.25,0.7;Bag@0.7,0.3"`` -> (layout, notes). Unknown classes, malformed items and too many
    items are one-line :class:`GenlensError`s; centres outside [0, 1] are clamped and noted."""
    parts = [p for p in str(text).split(";") if p.strip()]
    if not parts:
        raise GenlensError(f"layout '{text}' has no items; write CLASS@X,Y items separated by ';', e.g. {EXAMPLE}")
    items = []
    for part in parts:
        m = _ITEM.fullmatch(part)
        if m is None:
            raise GenlensError(f"layout item '{part.strip()}' is not CLASS@X,Y; write a class name or index, '@', "
                               f"then x,y in [0, 1] (x right, y down), items separated by ';', e.g. {EXAMPLE}")
        cls = resolve_class(m.group(1), tuple(class_names))
        size = float(m.group(4)) if m.group(4) is not None else None
        items.append(LayoutItem(cls, float(m.group(2)), float(m.group(3)), size))
    return validate_layout(Layout(tuple(items)), num_classes=len(class_names), max_items=max_items)


def validate_layout(layout: Layout, *, num_classes: int, max_items: int | None = None) -> tuple[Layout, list[str]]:
    """Check classes and item count (one-line errors), clamp centres to [0, 1] and sizes to (0, 1]; return the
    layout a model can take and the notes saying what was changed."""
    if max_items is not None and len(layout) > max_items:
        raise GenlensError(f"the layout has {len(layout)} objects but this model was trained with at most "
                           f"{max_items}; remove {len(layout) - max_items} of them")
    notes: list[str] = []
    out = []
    for i, it in enumerate(layout.items):
        if not 0 <= it.cls < num_classes:
            raise GenlensError(f"layout item {i} has class {it.cls}, out of range; use a class 0..{num_classes - 1}")
        if not (math.isfinite(it.x) and math.isfinite(it.y)):
            raise GenlensError(f"layout item {i} has centre ({it.x}, {it.y}); give finite x,y in [0, 1]")
        x, y = min(max(it.x, 0.0), 1.0), min(max(it.y, 0.0), 1.0)
        if (x, y) != (it.x, it.y):
            notes.append(f"layout item {i}: centre ({it.x:g}, {it.y:g}) is outside the canvas, clamped to "
                         f"({x:g}, {y:g})")
        size = it.size
        if size is not None and not (math.isfinite(size) and 0 < size <= 1):
            new = min(max(size, 0.05), 1.0) if math.isfinite(size) else None
            notes.append(f"layout item {i}: size {size:g} is outside (0, 1], so it is "
                         + ("the typical size" if new is None else f"clamped to {new:g}"))
            size = new
        out.append(LayoutItem(it.cls, x, y, size))
    return Layout(tuple(out)), notes


def default_size(count: int) -> float:
    """An item's typical size in a fashion-scenes scene of ``count`` items (the middle of its range)."""
    from genlens.data.scene_render import item_size_range

    lo, hi = item_size_range(max(1, count))
    return (lo + hi) / 2


def render_layout(layouts: Sequence[Layout], *, num_classes: int, canvas: int, mode: str = "blobs") -> torch.Tensor:
    """Per-class conditioning channels (B, num_classes, canvas, canvas) in [0, 1].

    ``blobs``: each item adds a Gaussian exp(-d^2 / (2 sigma^2)) centred on it, sigma = size * canvas / 4
    (so the item's longest side spans about +-2 sigma); items of one class combine by maximum.
    ``masks``: each item fills the square of side size * canvas centred on it."""
    if mode not in MODES:
        raise GenlensError(f"unknown layout rendering '{mode}'; choose one of: {', '.join(MODES)}")
    out = torch.zeros(len(layouts), num_classes, canvas, canvas)
    grid = torch.arange(canvas, dtype=torch.float32) + 0.5  # pixel centres
    for b, layout in enumerate(layouts):
        for it in layout.items:
            side = (it.size if it.size is not None else default_size(len(layout))) * canvas
            cx, cy = it.x * canvas, it.y * canvas
            if mode == "blobs":
                sigma = side / 4
                gx = torch.exp(-((grid - cx) ** 2) / (2 * sigma**2))
                gy = torch.exp(-((grid - cy) ** 2) / (2 * sigma**2))
                plane = gy[:, None] * gx[None, :]
            else:
                # pixels whose centre lies in the half-open square [c - side/2, c + side/2)
                inx = (grid >= cx - side / 2) & (grid < cx + side / 2)
                iny = (grid >= cy - side / 2) & (grid < cy + side / 2)
                plane = (iny[:, None] & inx[None, :]).float()
            out[b, it.cls] = torch.maximum(out[b, it.cls], plane)
    return out


def scene_layouts(scenes, idx: torch.Tensor | None = None) -> list[Layout]:
    """The ground-truth layouts of fashion-scenes (:class:`~genlens.data.scenes.SceneData`): each item's class,
    box centre and longest box side as its size."""
    idx = torch.arange(len(scenes)) if idx is None else idx
    classes, boxes = scenes.classes[idx], scenes.boxes[idx].float()
    centres = scenes.centres[idx]
    sides = torch.maximum(boxes[..., 2] - boxes[..., 0], boxes[..., 3] - boxes[..., 1]) / scenes.canvas
    out = []
    for c, xy, s in zip(classes.tolist(), centres.tolist(), sides.tolist()):
        out.append(Layout(tuple(LayoutItem(k, p[0], p[1], z) for k, p, z in zip(c, xy, s) if k >= 0)))
    return out


def scene_mask_channels(scenes, idx: torch.Tensor | None = None) -> torch.Tensor:
    """Per-class mask channels (B, num_classes, H, W) from the scenes' true item masks (a union per class)."""
    idx = torch.arange(len(scenes)) if idx is None else idx
    masks = scenes.masks(idx).float()  # (B, K, H, W)
    classes = scenes.classes[idx]
    onehot = torch.nn.functional.one_hot(classes.clamp(min=0), scenes.num_classes).float() * (classes >= 0)[..., None]
    return torch.einsum("bkhw,bkc->bchw", masks, onehot).clamp(max=1.0)
