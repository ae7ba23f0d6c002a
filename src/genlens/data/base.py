"""The in-memory image data set every genlens component consumes."""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

import torch

from genlens.errors import GenlensError


@dataclass(frozen=True)
class ImageData:
    """Images as uint8 (N, C, H, W), integer labels (N,), and the class names they index.

    Small data sets (Fashion-MNIST is 47 MB) live in memory, so batches are plain tensor slices:
    no worker processes, exact data order, and the same code on CPU and GPU (folders too big for memory
    stream instead: :mod:`genlens.data.stream`).

    ``labelled`` is False when the data has no class labels (a flat folder, a folder with one class
    sub-folder, an ``.npz`` without ``labels``): every label is 0 and trainers train unconditionally.
    ``captions`` holds one text per image ("" where an image has none) when the data has captions
    (:func:`genlens.data.folder_captions.captions_for`). ``notes`` are what loading did that the user should
    hear once (conversions, resizing, skipped files): the library never prints them, the CLI does.
    ``skipped`` counts unreadable files left out.
    """

    images: torch.Tensor
    labels: torch.Tensor
    class_names: tuple[str, ...]
    name: str = "data"
    labelled: bool = True
    captions: tuple[str, ...] | None = None
    notes: tuple[str, ...] = ()
    skipped: int = 0

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or self.images.dtype != torch.uint8:
            raise ValueError(f"images must be uint8 (N, C, H, W); got {self.images.dtype} {tuple(self.images.shape)}")
        if self.labels.shape != (self.images.shape[0],):
            raise ValueError("labels must be (N,) and match the number of images")
        if self.captions is not None and len(self.captions) != self.images.shape[0]:
            raise ValueError("captions must hold one text per image")

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    def float_images(self, idx: torch.Tensor | slice | None = None) -> torch.Tensor:
        """Images in [0, 1] as float32."""
        x = self.images if idx is None else self.images[idx]
        return x.float().div_(255.0)

    def subset(self, idx: torch.Tensor) -> ImageData:
        pos = torch.arange(len(self))[idx].reshape(-1).tolist()  # an index tensor or a bool mask
        captions = None if self.captions is None else tuple(self.captions[i] for i in pos)
        return dataclasses.replace(self, images=self.images[idx], labels=self.labels[idx], captions=captions)

    def take(self, n: int) -> ImageData:
        return self.subset(torch.arange(min(n, len(self))))

    def class_index(self, name_or_index: str | int) -> int:
        return resolve_class(name_or_index, self.class_names)


def resolve_class(name_or_index: str | int, class_names: tuple[str, ...] | list[str]) -> int:
    """Map a class name (case/space/underscore-insensitive) or index to an index, or fail in one line."""
    names = list(class_names)
    if isinstance(name_or_index, int) or re.fullmatch(r"\s*-?[0-9]+\s*", str(name_or_index)):
        i = int(name_or_index)
        if not 0 <= i < len(names):
            raise GenlensError(f"class index {i} is out of range; this model has classes 0..{len(names) - 1}")
        return i
    key = _norm(str(name_or_index))
    for i, n in enumerate(names):
        if _norm(n) == key:
            return i
    matches = [i for i, n in enumerate(names) if key and key in _norm(n)]
    if len(matches) == 1:
        return matches[0]
    raise GenlensError(f"unknown class '{name_or_index}'; choose one of: {', '.join(names)}")


def _norm(s: str) -> str:
    return "".join(ch for ch in s.lower() if ch.isalnum())
