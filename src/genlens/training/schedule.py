"""Learning-rate schedule: linear warm-up then cosine decay (Loshchilov & Hutter, SGDR, arXiv 1608.03983).

The multiplier is a small dataclass rather than a lambda, so ``LambdaLR.state_dict()`` stores its
fields (plain numbers) and the scheduler state loads with ``torch.load(weights_only=True)``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.optim.lr_scheduler import LambdaLR

from genlens.errors import GenlensError


@dataclass(frozen=True)
class CosineWarmup:
    """``lr(step) = base_lr * factor(step)``; ``step`` counts optimizer steps from 0."""

    total_steps: int
    warmup_steps: int = 0
    min_lr_ratio: float = 0.0

    def __post_init__(self) -> None:
        if self.total_steps < 1:
            raise GenlensError(f"total steps must be at least 1, got {self.total_steps}")
        if not 0 <= self.warmup_steps <= self.total_steps:
            raise GenlensError(
                f"warm-up steps ({self.warmup_steps}) must be between 0 and total steps ({self.total_steps})"
            )
        if not 0.0 <= self.min_lr_ratio <= 1.0:
            raise GenlensError(f"min_lr_ratio must be in [0, 1], got {self.min_lr_ratio}")

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:  # linear ramp 1/w, 2/w, ..., 1
            return (step + 1) / self.warmup_steps
        decay_steps = max(1, self.total_steps - self.warmup_steps)
        progress = min(1.0, (step - self.warmup_steps) / decay_steps)
        cosine = 0.5 * (1.0 + math.cos(math.pi * progress))
        return self.min_lr_ratio + (1.0 - self.min_lr_ratio) * cosine


def cosine_with_warmup(
    optimizer: torch.optim.Optimizer,
    *,
    total_steps: int,
    warmup_steps: int = 0,
    min_lr_ratio: float = 0.0,
) -> LambdaLR:
    """A ``LambdaLR`` following :class:`CosineWarmup`; step it once per optimizer step."""
    factor = CosineWarmup(total_steps=total_steps, warmup_steps=warmup_steps, min_lr_ratio=min_lr_ratio)
    return LambdaLR(optimizer, lr_lambda=factor)
