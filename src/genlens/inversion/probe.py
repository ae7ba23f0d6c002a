"""Check, before optimising, that a model can be inverted: it returns a logits tensor and pixels get a gradient.

One tiny forward/backward on two random images (the model's own input size) catches the usual mistakes
early with one line each: a model wrapped in ``torch.no_grad``/``detach`` or ending in ``argmax`` (no
gradient reaches the pixels), one that returns a dict/tuple or features instead of logits, and a class
count that does not match the handle's class names.
"""
from __future__ import annotations

import torch

from genlens.errors import GenlensError
from genlens.models.handle import ModelHandle
from genlens.utils.modes import eval_mode


def check_invertible(handle: ModelHandle) -> None:
    """Raise GenlensError unless ``handle(x)`` is (B, num_classes) floating logits differentiable in ``x``."""
    c, h, w = handle.input_size
    x = torch.rand(2, c, h, w, generator=torch.Generator().manual_seed(0)).to(handle.device).requires_grad_(True)
    with torch.enable_grad(), eval_mode(handle.model):
        try:
            out = handle(x)
        except GenlensError:
            raise
        except Exception as e:
            raise GenlensError(f"{handle.name} fails on a ({c}, {h}, {w}) input: {type(e).__name__}: "
                               f"{str(e).splitlines()[0][:160]}") from e
        if not isinstance(out, torch.Tensor):
            raise GenlensError(f"{handle.name} returns {type(out).__name__}, not a logits tensor; wrap it so that "
                               "forward returns (B, num_classes) logits")
        if not out.is_floating_point():
            raise GenlensError(f"{handle.name} returns {out.dtype} outputs (labels?), not logits; remove the argmax")
        if out.ndim != 2 or out.shape != (2, handle.num_classes):
            raise GenlensError(f"{handle.name} returns shape {tuple(out.shape)}, not logits (B, {handle.num_classes});"
                               " pass a classifier whose output has one logit per class name")
        if not out.requires_grad:
            raise GenlensError(f"{handle.name} is not differentiable (no gradient reaches the input: torch.no_grad, "
                               ".detach() or a non-differentiable op in forward); inversion needs gradients")
        (grad,) = torch.autograd.grad(out.float().sum(), x, allow_unused=True)
    if grad is None or not torch.isfinite(grad).all() or grad.abs().sum() == 0:
        raise GenlensError(f"{handle.name} gives the input no usable gradient (zero or NaN); inversion needs a model "
                           "whose logits depend differentiably on the pixels")
