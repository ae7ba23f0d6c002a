"""Peer 2: torch-dreams 4.0.0 (``Dreamer.render``) with a class-logit objective, 10 classes batched.

The documented batched usage (torch-dreams README, "Batched generation"), adapted only where our model needs it:

- **model**: ``RGBToGray`` (``peers/gray.py``): torch-dreams optimises RGB at ``size`` px (28 by default,
  the model's own size; torch-dreams' default is 256); our model sees the channel mean, resized to 28 px
  by the handle. torch-dreams hands the model ImageNet-normalised images; ``set_custom_normalization(
  nn.Identity())`` (its documented hook for other normalisations) undoes that, so the wrapper gets [0, 1].
- **parameterisation**: ``BatchedAutoImageParam(batch_size=10)``: one FFT-parameterised, colour-decorrelated
  image per class (sd 0.01), each with its own AdamW (lr 9e-3, weight decay 0: the defaults).
- **objective**: ``BatchedObjective`` of ``-logits[:, c].mean()`` per item, on ``layers=[model.logits]``.
- **render**: ``iters=steps``; everything else at ``render``'s defaults: random rotation up to 15 degrees,
  random resize 0.5-1.2 (the handle resizes back to 28 px, so at our fixed input size this acts as a
  resolution jitter, not a zoom), no translation, gradient norm clipped to 1 per image.

Randomness: torch-dreams draws from the global torch, NumPy and ``random`` generators; ``seed_everything``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from genlens.models.handle import ModelHandle
from genlens.utils.seed import seed_everything

from .gray import peer_model


@dataclass(frozen=True, kw_only=True)
class TorchDreamsConfig:
    steps: int = 120  # Dreamer.render's default iters; the benchmark sets pii's budget
    size: int = 28
    lr: float = 9e-3  # BatchedAutoImageParam / render defaults
    rotate_degrees: float = 15.0
    scale_min: float = 0.5
    scale_max: float = 1.2
    grad_clip: float = 1.0


def _logit_objective(c: int):
    def objective(layer_outputs: list[torch.Tensor]) -> torch.Tensor:
        return -layer_outputs[0][:, c].mean()
    return objective


def torch_dreams_invert(handle: ModelHandle, labels: torch.Tensor, *, config: TorchDreamsConfig,
                        seed: int) -> tuple[torch.Tensor, int]:
    """(images (B, 1, H, W) in [0, 1] at the handle's size, optimisation steps run) for ``labels`` (B,)."""
    from torch_dreams import Dreamer
    from torch_dreams.batched_image_param import BatchedAutoImageParam
    from torch_dreams.batched_objective import BatchedObjective

    seed_everything(seed)
    _, h, w = handle.input_size
    device = str(handle.device)
    with peer_model(handle) as model:
        dreamer = Dreamer(model, quiet=True, device=device)
        dreamer.set_custom_normalization(nn.Identity())
        images = BatchedAutoImageParam(batch_size=int(labels.shape[0]), height=config.size, width=config.size,
                                       standard_deviation=0.01, device=device, lr=config.lr)
        objective = BatchedObjective(objectives=[_logit_objective(int(c)) for c in labels.tolist()])
        result = dreamer.render(layers=[model.logits], image_parameter=images, iters=config.steps,
                                rotate_degrees=config.rotate_degrees, scale_min=config.scale_min,
                                scale_max=config.scale_max, custom_func=objective, grad_clip=config.grad_clip)
        steps = model.calls
        with torch.no_grad():
            rgb = torch.cat([p.postprocess(device=device) for p in result.image_params]).detach().cpu()
    gray = rgb.mean(dim=1, keepdim=True)  # (B, 1, size, size) in (0, 1)
    if gray.shape[-2:] != (h, w):
        gray = torch.nn.functional.interpolate(gray, size=(h, w), mode="bilinear", align_corners=False,
                                               antialias=True)
    return gray.clamp(0, 1), steps
