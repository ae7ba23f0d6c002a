"""Any folder of images, ImageFolder-style (``ROOT/<class>/<image>``) or flat (``ROOT/<image>``).

Flat folders get one class named after the folder. Images are converted to the requested channel
count and size. Only files with an image suffix are read (so a run.json beside the images is fine); a
file with an image suffix that is not an image is reported by name in one line, never skipped.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch

from genlens.data.base import ImageData
from genlens.errors import GenlensError
from genlens.utils.images import IMAGE_SUFFIXES, load_image


def load_image_folder(root: str | os.PathLike, *, channels: int = 1, size: int | None = 28,
                      class_names: tuple[str, ...] | None = None) -> ImageData:
    root = Path(root)
    if not root.is_dir():
        raise GenlensError(f"image folder '{root}' does not exist; pass a folder of PNG/JPEG files")
    subdirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if subdirs:
        names = tuple(d.name for d in subdirs)
        groups = [(i, sorted(_images_in(d))) for i, d in enumerate(subdirs)]
    else:
        names = (root.name,)
        groups = [(0, sorted(_images_in(root)))]
    if class_names is not None:  # map folder names (with _ for spaces/slashes) onto known class names
        from genlens.data.base import resolve_class

        groups = [(resolve_class(names[i].replace("_", " "), class_names), files) for i, files in groups]
        names = tuple(class_names)
    tensors, labels = [], []
    for label, files in groups:
        for f in files:
            tensors.append(load_image(f, channels=channels, size=size))
            labels.append(label)
    if not tensors:
        raise GenlensError(f"no images found under '{root}'; expected ROOT/<class>/*.png or ROOT/*.png")
    shapes = {t.shape for t in tensors}
    if len(shapes) > 1:
        raise GenlensError(f"images under '{root}' have different sizes {sorted(shapes)}; pass size= to resize")
    x = (torch.stack(tensors) * 255).round().to(torch.uint8)
    return ImageData(x, torch.tensor(labels, dtype=torch.int64), names, name=f"folder/{root.name}")


def _images_in(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
