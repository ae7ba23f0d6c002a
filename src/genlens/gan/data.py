"""Data as the GANs see it: (N, C, 32, 32) in [-1, 1], the generator's one canvas size.

Any data spec (:func:`genlens.data.spec.load_data`) works when its images are 32x32 (fashion-scenes, its
colour variant, 32-px folders) or 28x28 (Fashion-MNIST, padded by 2 px of background to 32, which
:func:`genlens.gan.evaluate.to_fmnist01` undoes for the 28x28 metrics). What ``genlens gan train``, the
benchmark and the tour train and evaluate on.
"""
from __future__ import annotations

import os

import torch
import torch.nn.functional as F

from genlens.data.base import ImageData
from genlens.errors import GenlensError
from genlens.gan.config import RESOLUTIONS
from genlens.gan.evaluate import PAD

CANVAS = RESOLUTIONS[-1]


def pad_to_32(images_u8: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 1, 28, 28) -> float (N, 1, 32, 32) in [-1, 1], padded with -1 (black background)."""
    x = images_u8.float() / 127.5 - 1.0
    return F.pad(x, (PAD, PAD, PAD, PAD), value=-1.0)


def to_gan_images(data: ImageData, *, spec: str = "data") -> torch.Tensor:
    """uint8 (N, C, 28 or 32, ...) -> float (N, C, 32, 32) in [-1, 1]; 28 px is padded (Fashion-MNIST)."""
    side = data.images.shape[-1]
    if data.images.shape[-2] != side or side not in (CANVAS, CANVAS - 2 * PAD):
        raise GenlensError(f"'{spec}' holds {tuple(data.images.shape[-2:])} images; the GANs draw {CANVAS}x{CANVAS} "
                           f"(28x28 is padded): use fashion-mnist, fashion-scenes (canvas 32) or 32-px images")
    return pad_to_32(data.images) if side != CANVAS else data.images.float() / 127.5 - 1.0


def load_gan_data(spec: str, split: str, *, data_dir: str | os.PathLike | None = None,
                  limit: int | None = None) -> tuple[torch.Tensor, ImageData]:
    """A data spec's ``split`` as GAN images (N, C, 32, 32) in [-1, 1], and the data set they came from
    (its ground truth, e.g. fashion-scenes' layouts, stays with it)."""
    from genlens.data.spec import load_data

    data = load_data(spec, split=split, data_dir=data_dir, size=CANVAS, limit=limit)
    return to_gan_images(data, spec=spec), data


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
