"""How a trainer or evaluator preprocesses a data spec: one typed record, saved in every trained folder.

``resolution`` resizes (shorter side) and centre-crops to N×N pixels (None: keep the data's own size),
``channels`` converts to 1 (grey) or 3 (colour) channels (None: keep), ``hflip`` adds random horizontal
flips during training (an augmentation; loading never flips). A folder trained with these options records
them (``config.json`` key ``"data"``), so sampling, evaluation and inversion preprocess exactly the same way.
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from genlens.data.base import ImageData
from genlens.errors import GenlensError


@dataclass(frozen=True)
class DataOptions:
    spec: str = "fashion-mnist"
    resolution: int | None = None
    channels: int | None = None
    hflip: bool = False

    def __post_init__(self) -> None:
        if self.resolution is not None and not 8 <= self.resolution <= 1024:
            raise GenlensError(f"--resolution {self.resolution} is out of range; use a size from 8 to 1024 pixels")
        if self.channels not in (None, 1, 3):
            raise GenlensError(f"--channels {self.channels} is not supported; use 1 (grey) or 3 (colour)")


def load_with_options(options: DataOptions, *, split: str = "train", data_dir: str | os.PathLike | None = None,
                      limit: int | None = None, callback: Callable[[dict], None] | None = None) -> ImageData:
    """The :class:`~genlens.data.base.ImageData` that ``options`` describe (``split`` when the spec names none);
    ``callback`` gets a folder's decoding progress (``{"step": i, "total": n}``); ``data.notes`` says what changed."""
    from genlens.data.spec import load_data, parse_data_spec

    folder = parse_data_spec(options.spec).kind == "folder"
    # folders are resized and cropped while decoding (PIL, per image: sizes may differ); others by apply_options
    data = load_data(options.spec, split=split, data_dir=data_dir, limit=limit, size=options.resolution if folder
                     else None, channels=options.channels if folder else 1, callback=callback)
    return apply_options(data, options)


def apply_options(data: ImageData, options: DataOptions) -> ImageData:
    """``data`` resized (shorter side, antialiased), centre-cropped and converted as ``options`` say; what
    changed is added to ``data.notes`` (for the CLI to say once)."""
    x, notes = data.images, list(data.notes)
    if options.channels is not None and x.shape[1] != options.channels:
        notes.append(f"converted {len(data)} image(s) to {'grey' if options.channels == 1 else 'colour (RGB)'}")
        f = x.float()
        # ITU-R BT.601 luma for colour -> grey, the weights PIL's convert("L") uses
        x = (f[:, :1].expand(-1, 3, -1, -1) if options.channels == 3 else
             (f * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True))
        x = x.round().clamp(0, 255).to(torch.uint8)
    n = options.resolution
    if n is not None and tuple(x.shape[-2:]) != (n, n):
        if hasattr(data, "boxes"):  # scenes carry boxes and masks in pixels
            raise GenlensError(f"{data.name} has {x.shape[-1]}-px scenes with ground-truth layouts; "
                               "drop --resolution (layouts cannot be rescaled)")
        h, w = x.shape[-2:]
        notes.append(f"resized {len(data)} image(s) from {w}x{h} to {n}x{n}" + (
            ", shorter side then centre crop" if h != w else ""))
        scale = n / min(h, w)
        size = (max(n, round(h * scale)), max(n, round(w * scale)))
        x = F.interpolate(x.float(), size=size, mode="bilinear", antialias=True, align_corners=False)
        top, left = (size[0] - n) // 2, (size[1] - n) // 2
        x = x[..., top:top + n, left:left + n].round().clamp(0, 255).to(torch.uint8)
    if x is data.images:
        return data
    return dataclasses.replace(data, images=x.contiguous(), notes=tuple(notes))
