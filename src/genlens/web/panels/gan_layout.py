"""Layout items of the GAN panel, for layout-conditioned generators (``scenes-gan-layout``).

A request's ``items`` are the whole layout (DESIGN.md "Layouts"): each a class index, a centre (x right, y down,
both in [0, 1] of the canvas) and an optional size (the item's longest side over the canvas side), the CLI's
``CLASS@X,Y[,SIZE]``. The library checks them (:func:`genlens.gan.layout_channels`: a class out of range or more
items than the model was trained with is a one-line error; centres outside the canvas are clamped, never an
error, as blobs are) and renders the per-class blob channels the generator takes; the panel draws those channels,
summed over classes, as the overlay (what the generator is told, as the heatmap is for EqGAN-SA).

Without items a seed is drawn under :func:`default_layout`: there is no layout sampler that needs no data set
(training reads layouts from fashion-scenes' ground truth), so it is a fixed two-item layout for every seed.
"""
from __future__ import annotations

from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field

from genlens.attribution import colorize
from genlens.data.layout import EXAMPLE, Layout, LayoutItem, default_size, parse_layout
from genlens.errors import GenlensError


class Item(BaseModel):
    """One layout item of a request (``{"cls": 7, "x": 0.25, "y": 0.7, "size": 0.4}``)."""

    model_config = ConfigDict(extra="forbid")
    cls: int = Field(ge=0, le=4096)  # checked against the model's classes by the library
    x: float = Field(allow_inf_nan=False)
    y: float = Field(allow_inf_nan=False)
    size: float | None = Field(None, allow_inf_nan=False)  # outside (0, 1]: clamped by the library


def to_layout(items: list[Item]) -> Layout:
    return Layout(tuple(LayoutItem(it.cls, it.x, it.y, it.size) for it in items))


def default_layout(config: Any) -> Layout:
    """DESIGN.md's example layout (``Sneaker@0.25,0.7;Bag@0.7,0.3``) when the model has those classes, else its
    first two classes at the same places; at most ``max_items`` items, each of the typical size for the count."""
    names = tuple(config.class_names)
    try:
        layout, _ = parse_layout(EXAMPLE.strip('"'), names)
    except GenlensError:  # other class names
        layout = Layout((LayoutItem(0, 0.25, 0.7), LayoutItem(min(1, len(names) - 1), 0.7, 0.3)))
    items = layout.items[: config.max_items]
    size = default_size(len(items))
    return Layout(tuple(LayoutItem(it.cls, it.x, it.y, size) for it in items))


def layout_info(config: Any) -> dict[str, Any]:
    """What the page needs to edit a layout: class names, the item limit, typical sizes per item count and the
    default items."""
    limit = config.max_items
    items = [{"cls": it.cls, "x": it.x, "y": it.y, "size": it.size} for it in default_layout(config).items]
    return {"class_names": list(config.class_names), "max_items": limit,
            "typical_sizes": [default_size(k) for k in range(1, limit + 1)], "items": items}


def layout_overlay(channels: torch.Tensor) -> torch.Tensor:
    """Layout channels (K, H, W) in [0, 1] -> RGBA (4, H, W): the strongest class at each pixel, colourised,
    alpha = its strength."""
    total = channels.amax(dim=0).float()
    return torch.cat([colorize(total), total[None]])
