"""Peer 1: torch-lucent 0.1.8 (``lucent.optvis.render.render_vis``) with a class-logit objective.

How a competent lucent user inverts 10 classes of our model (README usage of lucent, adapted only where
our model needs it):

- **model**: ``RGBToGray`` (``peers/gray.py``): lucent optimises RGB at ``size`` px (28 by default, the
  model's own size); our model sees the channel mean, resized to 28 px by the handle if ``size`` differs.
  ``preprocess=False``: lucent's preprocessing is ImageNet normalisation, and the handle normalises itself.
  ``fixed_image_size`` = the model's 28 px, instead of lucent's upsampling of small images to 224 px.
- **parameterisation**: ``param.image(size, batch=10)``, lucent's defaults: FFT spectrum (``fft=True``),
  decorrelated colour (``decorrelate=True``), sigmoid to [0, 1], sd 0.01.
- **objective**: ``objectives.channel("logits", c, batch=i)`` (minus the logit of class ``c`` for batch item
  ``i``), summed over the 10 items: all classes in one optimisation.
- **optimiser**: lucent's default, Adam lr 0.05, ``steps`` iterations (``thresholds=(steps,)``).
- **transforms**: ``"scaled"`` (default): lucent's ``standard_transforms`` recipe, with the pixel sizes scaled
  from lucent's 128-px default image to ``size`` px (pad 12 -> 3, jitter 8 -> 2, jitter 4 -> 2; lucent's
  ``jitter`` needs at least 2) and the same random scales (0.9-1.1) and rotations (-10..10 degrees);
  ``"standard"``: ``transform.standard_transforms`` unchanged (pads 12 px around a 28-px image).

kornia: lucent 0.1.8 pins ``kornia<=0.4.1``; with kornia 0.9, ``pad``, ``jitter`` (``kornia.geometry.
transform.translate``) and ``random_scale`` work as they are, but ``random_rotate`` calls
``kornia.get_rotation_matrix2d`` and ``kornia.warp_affine``, which kornia moved to ``kornia.geometry.
transform``. ``kornia_aliases`` puts those two names back on ``kornia`` for the run (same functions, same
signatures), so lucent's own rotation runs unchanged.

Randomness: lucent draws from the global torch and NumPy generators; ``seed_everything(seed)`` seeds them.
Lucent picks its device at import (``cuda:0`` when CUDA is visible); this peer runs on the CPU, like the
benchmark, so run it where CUDA is not visible.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import torch

from genlens.models.handle import ModelHandle
from genlens.utils.seed import seed_everything

from .gray import peer_model

LUCENT_DEFAULT_SIZE = 128  # param.image's size in lucent's examples; standard_transforms is sized for it


@dataclass(frozen=True, kw_only=True)
class LucentConfig:
    steps: int = 512  # render_vis's default thresholds=(512,); the benchmark sets pii's budget
    size: int = 28
    lr: float = 0.05  # render_vis's default optimiser: Adam(lr=5e-2)
    fft: bool = True
    decorrelate: bool = True
    transforms: Literal["scaled", "standard"] = "scaled"


@contextmanager
def kornia_aliases() -> Iterator[None]:
    """``kornia.get_rotation_matrix2d`` / ``kornia.warp_affine`` for lucent's ``random_rotate`` (kornia >= 0.5
    only has them under ``kornia.geometry.transform``); removed again afterwards."""
    import kornia
    from kornia.geometry import transform as kgt

    added = [n for n in ("get_rotation_matrix2d", "warp_affine") if not hasattr(kornia, n)]
    for n in added:
        setattr(kornia, n, getattr(kgt, n))
    try:
        yield
    finally:
        for n in added:
            delattr(kornia, n)


def lucent_transforms(config: LucentConfig) -> list:
    """Lucent's ``standard_transforms`` or its pixel sizes scaled to ``config.size`` (module docstring)."""
    from lucent.optvis import transform

    if config.transforms == "standard":
        return list(transform.standard_transforms)
    k = config.size / LUCENT_DEFAULT_SIZE
    return [
        transform.pad(max(1, round(12 * k)), mode="constant", constant_value=0.5),
        transform.jitter(max(2, round(8 * k))),
        transform.random_scale([1 + (i - 5) / 50.0 for i in range(11)]),
        transform.random_rotate(list(range(-10, 11)) + 5 * [0]),
        transform.jitter(max(2, round(4 * k))),
    ]


def lucent_invert(handle: ModelHandle, labels: torch.Tensor, *, config: LucentConfig,
                  seed: int) -> tuple[torch.Tensor, int]:
    """(images (B, 1, H, W) in [0, 1] at the handle's size, optimisation steps run) for ``labels`` (B,)."""
    from lucent.optvis import objectives, param, render

    seed_everything(seed)
    batch = int(labels.shape[0])
    _, h, w = handle.input_size
    objective = objectives.Objective.sum(
        [objectives.channel("logits", int(c), batch=i) for i, c in enumerate(labels.tolist())])
    with kornia_aliases(), peer_model(handle) as model:
        params, image_f = param.image(config.size, batch=batch, fft=config.fft, decorrelate=config.decorrelate)
        render.render_vis(model, objective, param_f=lambda: (params, image_f),
                          optimizer=lambda p: torch.optim.Adam(p, lr=config.lr),
                          transforms=lucent_transforms(config), thresholds=(config.steps,), preprocess=False,
                          progress=False, show_image=False, fixed_image_size=(h, w))
        steps = model.calls
        with torch.no_grad():
            rgb = image_f().detach().cpu()  # (B, 3, size, size) in (0, 1)
    gray = rgb.mean(dim=1, keepdim=True)
    if gray.shape[-2:] != (h, w):  # what the model saw: the handle's resize
        gray = torch.nn.functional.interpolate(gray, size=(h, w), mode="bilinear", align_corners=False,
                                               antialias=True)
    return gray.clamp(0, 1), steps
