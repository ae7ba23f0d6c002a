"""Exponential moving average of model weights (Polyak averaging), the weights used for sampling.

``ema = d * ema + (1 - d) * weights`` after each optimizer step. With ``warmup=True`` the decay ramps
up as ``d_n = min(decay, (1 + n) / (10 + n))`` (n = updates so far, the rule of TensorFlow's
``ExponentialMovingAverage(num_updates=...)``), so early averages are not dominated by the random
initial weights. Floating-point parameters are averaged; buffers (batch-norm statistics, counters) are
copied as they are.

Why not ``torch.optim.swa_utils.AveragedModel`` with ``get_ema_multi_avg_fn``: its first update copies the
weights instead of applying the warm-up decay, it averages buffers (``use_buffers=True``) or leaves them
stale instead of copying them, and its state dict (``module.*`` + ``n_averaged``) is not the one our
checkpoints hold, so shipped EMA states and bit-exact resume would change.
"""
from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from genlens.errors import GenlensError


def unwrap_module(model: nn.Module) -> nn.Module:
    """Strip DistributedDataParallel / DataParallel / torch.compile wrappers."""
    while True:
        if isinstance(model, (nn.parallel.DistributedDataParallel, nn.DataParallel)):
            model = model.module
        elif hasattr(model, "_orig_mod") and isinstance(model._orig_mod, nn.Module):
            model = model._orig_mod
        else:
            return model


class EMA:
    """Holds ``ema_model``, a frozen copy of ``model`` in eval mode that tracks its weights."""

    def __init__(self, model: nn.Module, *, decay: float = 0.999, warmup: bool = True) -> None:
        if not 0.0 <= decay < 1.0:
            raise GenlensError(f"EMA decay must be in [0, 1), got {decay}; typical values are 0.999-0.9999")
        self.decay = float(decay)
        self.warmup = bool(warmup)
        self.num_updates = 0
        self.ema_model = copy.deepcopy(unwrap_module(model)).eval().requires_grad_(False)

    def current_decay(self) -> float:
        """The decay the next :meth:`update` will use."""
        if not self.warmup:
            return self.decay
        n = self.num_updates
        return min(self.decay, (1.0 + n) / (10.0 + n))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        weight = 1.0 - self.current_decay()
        source = unwrap_module(model)
        floats: tuple[list[torch.Tensor], list[torch.Tensor]] = ([], [])
        for ema_p, p in zip(self.ema_model.parameters(), source.parameters(), strict=True):
            if ema_p.dtype.is_floating_point:
                floats[0].append(ema_p)
                floats[1].append(p.detach().to(ema_p.dtype))
            else:
                ema_p.copy_(p.detach())
        if floats[0]:  # one fused kernel per dtype/device group instead of one small op per tensor
            torch._foreach_lerp_(floats[0], floats[1], weight)
        for ema_b, b in zip(self.ema_model.buffers(), source.buffers(), strict=True):
            ema_b.copy_(b.detach())
        self.num_updates += 1

    @torch.no_grad()
    def copy_to(self, model: nn.Module) -> None:
        """Write the averaged weights (and buffers) into ``model``, e.g. before evaluating it."""
        target = unwrap_module(model)
        for ema_t, t in zip(self.ema_model.parameters(), target.parameters(), strict=True):
            t.copy_(ema_t.to(t.dtype))
        for ema_t, t in zip(self.ema_model.buffers(), target.buffers(), strict=True):
            t.copy_(ema_t)

    def to(self, device: torch.device | str) -> EMA:
        self.ema_model.to(device)
        return self

    def settings(self) -> dict[str, Any]:
        """What must match between a run and its resumption."""
        return {"decay": self.decay, "warmup": self.warmup}

    def state_dict(self) -> dict[str, Any]:
        return {**self.settings(), "num_updates": self.num_updates, "model": self.ema_model.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if float(state["decay"]) != self.decay or bool(state["warmup"]) != self.warmup:
            raise GenlensError(
                f"saved EMA has decay={state['decay']} warmup={state['warmup']} but this one has "
                f"decay={self.decay} warmup={self.warmup}; use the same EMA settings to resume"
            )
        self.num_updates = int(state["num_updates"])
        if "model" in state:
            self.ema_model.load_state_dict(state["model"])
