"""Data as the GANs see it: (N, C, S, S) in [-1, 1] on one of the generators' canvases (S = 32, 64 or 128).

Any data spec works (:func:`genlens.data.options.load_with_options`, resized with ``--resolution``) when its
images land on a canvas: 32, 64 or 128 px (fashion-scenes, its colour variant, your folders), or 28x28
(Fashion-MNIST, padded by 2 px of background to 32, which :func:`genlens.gan.evaluate.to_fmnist01` undoes for
the 28x28 metrics). What ``genlens gan train``, the benchmark and the tour train and evaluate on.
"""
from __future__ import annotations

import os

import torch
import torch.nn.functional as F

from genlens.data.base import ImageData
from genlens.data.options import DataOptions
from genlens.errors import GenlensError
from genlens.gan.config import CANVASES, RESOLUTIONS
from genlens.gan.evaluate import PAD

CANVAS = RESOLUTIONS[-1]  # Fashion-MNIST's canvas (28 padded to 32)


def pad_to_32(images_u8: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 1, 28, 28) -> float (N, 1, 32, 32) in [-1, 1], padded with -1 (black background)."""
    x = images_u8.float() / 127.5 - 1.0
    return F.pad(x, (PAD, PAD, PAD, PAD), value=-1.0)


def to_gan_images(data: ImageData, *, spec: str = "data") -> torch.Tensor:
    """uint8 (N, C, S, S) -> float (N, C, S, S) in [-1, 1] for S in 32, 64, 128; 28 px is padded to 32
    (Fashion-MNIST)."""
    side = data.images.shape[-1]
    if data.images.shape[-2] != side or side not in (*CANVASES, CANVAS - 2 * PAD):
        raise GenlensError(f"'{spec}' holds {tuple(data.images.shape[-2:])} images; the GANs draw 32, 64 or 128-px "
                           "squares (28x28 is padded): pass --resolution 32, 64 or 128")
    return pad_to_32(data.images) if side == CANVAS - 2 * PAD else data.images.float() / 127.5 - 1.0


def load_gan_data(spec: str | DataOptions, split: str, *, data_dir: str | os.PathLike | None = None,
                  limit: int | None = None) -> tuple[torch.Tensor, ImageData]:
    """A data spec's (or :class:`DataOptions`') ``split`` as GAN images (N, C, S, S) in [-1, 1], and the data set
    they came from (its ground truth, e.g. fashion-scenes' layouts, stays with it). A bare spec string loads
    folders at 32 px (the size before ``--resolution``)."""
    from genlens.data.options import load_with_options

    options = DataOptions(spec, resolution=CANVAS if _is_folder(spec) else None) if isinstance(spec, str) else spec
    data = load_with_options(options, split=split, data_dir=data_dir, limit=limit)
    return to_gan_images(data, spec=options.spec), data


def _is_folder(spec: str) -> bool:
    from genlens.data.spec import parse_data_spec

    return parse_data_spec(spec).kind == "folder"


def fmnist_32(split: str, *, data_dir: str | os.PathLike | None = None, limit: int | None = None) -> torch.Tensor:
    """A Fashion-MNIST split (``train`` or ``test``) as (N, 1, 32, 32) float in [-1, 1]."""
    from genlens.data.fashion_mnist import load_fashion_mnist

    images = load_fashion_mnist(split, data_dir=data_dir).images
    return pad_to_32(images[:limit] if limit else images)


def fmnist_28(split: str, *, data_dir: str | os.PathLike | None = None, limit: int | None = None) -> torch.Tensor:
    """A Fashion-MNIST split as (N, 1, 28, 28) float in [0, 1] (the reference set of FID/KID)."""
    from genlens.data.fashion_mnist import load_fashion_mnist

    images = load_fashion_mnist(split, data_dir=data_dir).images
    return (images[:limit] if limit else images).float() / 255.0
