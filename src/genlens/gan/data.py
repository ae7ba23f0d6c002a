"""Fashion-MNIST as the GANs see it: 32x32 in [-1, 1], the 28x28 images padded by 2 px of background.

What ``genlens gan train``, the benchmark and the tour train and evaluate on; :func:`genlens.gan.evaluate.to_fmnist01` undoes it for the 28x28 metrics.
"""
from __future__ import annotations

import os

import torch
import torch.nn.functional as F

from genlens.gan.evaluate import PAD


def pad_to_32(images_u8: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 1, 28, 28) -> float (N, 1, 32, 32) in [-1, 1], padded with -1 (black background)."""
    x = images_u8.float() / 127.5 - 1.0
    return F.pad(x, (PAD, PAD, PAD, PAD), value=-1.0)


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
