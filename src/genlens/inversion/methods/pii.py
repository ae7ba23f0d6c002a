"""Plug-In Inversion (Ghiasi et al., ICML 2022, arXiv 2201.12961), as DESIGN.md section 4 states the
official code: raw pixels from U(0, 1); cross-entropy on the target class and nothing else; Adam lr 0.01,
betas (0.5, 0.99); a cosine schedule restarted per stage, 400 steps per stage; clamp to [0, 1] after each
step; 7 stages whose canvas grows from 2/8 to 8/8 of the final size, each pasting the previous image in
the centre of fresh noise (centering), the canvas being resized to the model's input (zoom); every step a
roll-jitter of ±1/7 of the canvas, then an ensemble of copies each with its own ColorShift
``x * exp(U(-1, 1)) + U(-1, 1)`` per channel (section 4, "Ensemble" and "ColorShift"); no flips.

Two presets: ``pii-paper`` is that literal recipe; ``pii`` is the slot for one fixed set tuned on our 28-px
grayscale models (to be measured; for now a milder ColorShift and a small total-variation prior).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from genlens.errors import GenlensError
from genlens.inversion.augment import ColorShift, Compose, Flip, Jitter, Repeat
from genlens.inversion.context import Objective
from genlens.inversion.methods.common import build_param, final_size, fraction_of, scale_steps
from genlens.inversion.objectives import class_ce, total_variation
from genlens.inversion.render import AdamConfig, Callback, Stage, render
from genlens.models.handle import ModelHandle


@dataclass(frozen=True, kw_only=True)
class PIIConfig:
    stage_steps: int = 400
    n_stages: int = 7  # canvas sizes (9 - n)/8, ..., 8/8 of the final size: 7 stages start at 2/8
    grow_margin: int | None = None  # None: the old image keeps its pixel size inside the new canvas
    lr: float = 0.01
    betas: tuple[float, float] = (0.5, 0.99)
    jitter: float = 1 / 7  # roll-jitter limit as a fraction of the canvas
    ensemble: int = 8  # copies per image per step (our choice: the paper fixes the recipe, not a CPU budget)
    color_mul: float = 1.0  # ColorShift: x * exp(U(-mul, mul)) + U(-add, add)
    color_add: float = 1.0
    flip: bool = False
    tv: float = 0.0  # weight of a total-variation prior (0 in the paper)
    tv_kind: Literal["l1", "l2", "deepinversion"] = "l2"
    param: Literal["pixels", "blur", "fft"] = "pixels"
    blur_sigma: float = 0.0

    def __post_init__(self) -> None:
        if not 1 <= self.n_stages <= 8:
            raise GenlensError(f"PII needs 1..8 stages (canvas steps of 1/8), got {self.n_stages}")
        if self.stage_steps < 1 or self.ensemble < 1:
            raise GenlensError("PII needs stage_steps >= 1 and ensemble >= 1")


PII_PRESETS: dict[str, PIIConfig] = {
    "pii-paper": PIIConfig(),
    "pii": PIIConfig(color_mul=0.3, color_add=0.3, tv=0.05, tv_kind="l2"),  # placeholder until measured
}


def pii_stages(config: PIIConfig, final: tuple[int, int], steps_scale: float) -> list[Stage]:
    first = 9 - config.n_stages
    return [
        Stage(steps=scale_steps(config.stage_steps, steps_scale), size=fraction_of(final, (first + k) / 8),
              margin=config.grow_margin)
        for k in range(config.n_stages)
    ]


def pii_transforms(config: PIIConfig) -> Compose:
    chain = [Jitter(fraction=config.jitter), Repeat(copies=config.ensemble),
             ColorShift(mul=config.color_mul, add=config.color_add)]
    return Compose(chain + ([Flip()] if config.flip else []))


def pii_objective(targets: torch.Tensor, config: PIIConfig) -> Objective:
    objective = class_ce(targets=targets)
    if config.tv > 0:
        objective = objective + config.tv * total_variation(kind=config.tv_kind)
    return objective


def run_pii(handle: ModelHandle, targets: torch.Tensor, *, config: PIIConfig, generator: torch.Generator,
            steps_scale: float = 1.0, callback: Callback | None = None) -> torch.Tensor:
    final = final_size(handle)
    stages = pii_stages(config, final, steps_scale)
    param = build_param(config.param, batch=targets.numel(), channels=handle.input_size[0], size=stages[0].size,
                        generator=generator, device=handle.device, blur_sigma=config.blur_sigma)
    result = render(handle, pii_objective(targets, config), param=param, generator=generator, stages=stages,
                    transforms=pii_transforms(config), optimizer=AdamConfig(lr=config.lr, betas=config.betas),
                    schedule="cosine", callback=callback)
    return result.images
