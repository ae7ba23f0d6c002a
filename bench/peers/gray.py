"""What the peers see: our 1-channel 28-px classifier as a 3-channel RGB model with an explicit logits layer.

Lucent and torch-dreams optimise RGB images and read the objective from a hooked layer. ``RGBToGray``
takes RGB in [0, 1] at any size, gives the handle the channel mean (the handle resizes to its input size
and normalises, ``ModelHandle.normalize``) and returns the logits through ``self.logits`` (an identity),
so a peer can hook "the logits" by name. ``peer_model`` runs the classifier as our own methods do (eval
mode, frozen weights) and removes any forward hook a peer leaves behind.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import torch
import torch.nn as nn

from genlens.models.handle import ModelHandle
from genlens.utils.modes import eval_mode, frozen


class RGBToGray(nn.Module):
    """(B, 3, H, W) RGB in [0, 1] -> the handle's logits of the grayscale image (channel mean): (B, K)."""

    def __init__(self, handle: ModelHandle):
        super().__init__()
        if handle.input_size[0] != 1:
            raise ValueError(f"{handle.name} takes {handle.input_size[0]} channels; RGBToGray is for grayscale models")
        self.handle = handle
        self.classifier = handle.model  # registered, so a peer's .to()/.eval()/hooks reach the real model
        self.logits = nn.Identity()  # the layer peers hook for a class-logit objective
        self.calls = 0  # forward passes: one per optimisation step for both peers

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        gray = rgb.mean(dim=1, keepdim=True)  # (B, 1, H, W)
        return self.logits(self.handle(gray))


@contextmanager
def released_forward_hooks(module: nn.Module) -> Iterator[None]:
    """Remove, on exit, every forward hook registered on ``module`` or its children inside the block.

    Lucent's ``render_vis`` hooks every submodule and never removes the hooks; left in place they would
    pile up run after run and slow down the judging.
    """
    # torch keeps forward hooks in these per-module dicts (keyed by handle id); no public listing exists
    names = ("_forward_hooks", "_forward_hooks_with_kwargs", "_forward_hooks_always_called")
    before = {m: {n: set(getattr(m, n, {})) for n in names} for m in module.modules()}
    try:
        yield
    finally:
        for m, keys in before.items():
            for n in names:
                hooks = getattr(m, n, None)
                for k in set(hooks or {}) - keys[n]:
                    del hooks[k]


@contextmanager
def peer_model(handle: ModelHandle) -> Iterator[RGBToGray]:
    """The wrapped classifier in eval mode with frozen weights (as genlens' own render loop runs it)."""
    wrapped = RGBToGray(handle)
    with ExitStack() as stack:
        stack.enter_context(eval_mode(handle.model))
        stack.enter_context(frozen(handle.model))
        stack.enter_context(released_forward_hooks(wrapped))
        yield wrapped
