"""Layout conditioning of the denoiser (Make-A-Scene, Gafni et al. 2022: a scene layout controls where things go).

A :class:`~genlens.data.layout.Layout` becomes per-class channels (:func:`layout_channels`, rendered by
:func:`genlens.data.layout.render_layout`) that the denoiser sees beside x_t; training scenes take their layout
from their ground truth (:func:`genlens.data.layout.scene_layouts`). Classifier-free guidance over the layout
uses the empty layout as the null condition: ε̃ = ε_∅ + s · (ε_layout − ε_∅) (Ho & Salimans 2022, eq. 6).

Editing (:func:`edit_layout_sample`): move, add or remove an item and sample again from the same initial
noise, so what changes is what the layout changed.
"""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import Any

import torch

from genlens.data.layout import Layout, LayoutItem, parse_layout, render_layout, validate_layout
from genlens.diffusion.config import UNetConfig
from genlens.errors import GenlensError

__all__ = ["apply_edit", "edit_layout_sample", "layout_channels", "layout_grid", "parse_edit", "resolve_layout"]


def layout_channels(layouts: Sequence[Layout], config: UNetConfig) -> torch.Tensor:
    """The conditioning input of a layout model: (B, num_classes, H, W) in [0, 1] on the model's canvas."""
    return render_layout(list(layouts), num_classes=config.num_classes, canvas=config.sample_size,
                         mode=config.layout_mode)


def resolve_layout(what: Layout | str, config: UNetConfig, class_names: Sequence[str]) -> tuple[Layout, list[str]]:
    """A layout (or its text form ``"Sneaker@0.25,0.7;Bag@0.7,0.3"``) checked against the model: a class out of
    range or more items than the model was trained with is a one-line error; centres outside the canvas are
    clamped and the returned notes say so."""
    names = tuple(class_names) or tuple(str(i) for i in range(config.num_classes))
    if isinstance(what, str):
        return parse_layout(what, names, max_items=config.max_items)
    if not isinstance(what, Layout):
        raise GenlensError(f"a layout model takes a Layout or text like \"Sneaker@0.25,0.7\", not {type(what).__name__}")
    if len(what) == 0:
        raise GenlensError("the layout has no items; give at least one CLASS@X,Y (an empty layout is the null "
                           "condition, sampled with guidance 0)")
    return validate_layout(what, num_classes=config.num_classes, max_items=config.max_items)


def layout_grid(pipe: Any, *, per_class: int = 8, seed: int = 0) -> torch.Tensor:
    """(K·per_class, C, H, W): one row per class, that class alone with its centre walking the diagonal from
    (0.2, 0.2) to (0.8, 0.8); a fixed seed, so grids written during training show the model changing, not the
    noise (both where objects land and what they are)."""
    from genlens.utils.seed import make_generator

    steps = torch.linspace(0.2, 0.8, per_class).tolist()
    layouts = [Layout((LayoutItem(k, p, p),)) for k in range(pipe.model.config.num_classes) for p in steps]
    return pipe.sample(layouts, 1, generator=make_generator(seed, pipe.device)).cpu()


# ----------------------------------------------------------------------------------------- editing
_MOVE = re.compile(r"\s*(\d+)\s*:\s*(.+)")


def parse_edit(layout: Layout, class_names: Sequence[str], *, move: str | None = None, add: str | None = None,
               remove: int | None = None) -> Layout:
    """The layout after one edit: ``move="I:X,Y"`` puts item I's centre at (X, Y); ``add="CLASS@X,Y"`` appends an
    item; ``remove=I`` drops item I. Exactly one edit; a bad index or text is one line."""
    if sum(v is not None for v in (move, add, remove)) != 1:
        raise GenlensError("give exactly one edit: --move I:X,Y, --add CLASS@X,Y or --remove I")
    n = len(layout)
    if move is not None:
        m = _MOVE.fullmatch(move)
        if m is None:
            raise GenlensError(f"--move '{move}' is not I:X,Y; e.g. --move 0:0.5,0.5 puts item 0's centre mid-canvas")
        i = _index(int(m.group(1)), n, "--move")
        try:
            x, y = (float(v) for v in m.group(2).split(","))
        except ValueError:
            raise GenlensError(f"--move '{move}' needs two numbers after ':', e.g. 0:0.5,0.5") from None
        return apply_edit(layout, move=(i, x, y))
    if add is not None:
        extra, _ = parse_layout(add, tuple(class_names))
        return apply_edit(layout, add=extra.items)
    return apply_edit(layout, remove=_index(int(remove), n, "--remove"))


def _index(i: int, n: int, flag: str) -> int:
    if not 0 <= i < n:
        raise GenlensError(f"{flag}: item {i} does not exist; the layout has items 0..{n - 1}")
    return i


def apply_edit(layout: Layout, *, move: tuple[int, float, float] | None = None,
               add: Sequence[LayoutItem] = (), remove: int | None = None) -> Layout:
    """``layout`` with item ``move[0]`` centred at ``move[1:]``, the items ``add`` appended, item ``remove`` dropped."""
    items = list(layout.items)
    if move is not None:
        i, x, y = move
        items[i] = dataclasses.replace(items[i], x=float(x), y=float(y))
    if remove is not None:
        del items[remove]
    return Layout(tuple(items) + tuple(add))


@dataclasses.dataclass
class LayoutEdit:
    """Images of one layout before and after an edit, drawn from the same initial noise."""

    before: torch.Tensor  # (n, C, H, W) in [0, 1]
    after: torch.Tensor
    layout_before: Layout
    layout_after: Layout
    notes: list[str]


def edit_layout_sample(pipe: Any, layout_before: Layout | str, layout_after: Layout | str,
                       generator: torch.Generator | None = None, *, n: int = 1, config=None,
                       callback=None) -> LayoutEdit:
    """Sample ``n`` images of ``layout_before`` and of ``layout_after`` from the same initial noise (and the same
    stochastic draws: the generator is rewound), with ``pipe`` a layout-conditional
    :class:`~genlens.diffusion.pipeline.DiffusionPipeline`."""
    before, notes = pipe.layout(layout_before)
    after, notes_after = pipe.layout(layout_after)
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    state = generator.get_state()
    imgs_before = pipe.sample(before, n, generator=generator, config=config, callback=callback)
    generator.set_state(state)  # the same x_T (and, for ddpm, the same ancestral noise)
    imgs_after = pipe.sample(after, n, generator=generator, config=config, callback=callback)
    return LayoutEdit(imgs_before, imgs_after, before, after, notes + [f"after edit: {t}" for t in notes_after])
