"""The render loop (lucid ``render_vis``): optimise a parameterised batch of images against an objective.

``render`` only optimises and reports: it returns tensors and a history, calls ``callback(dict)`` each
step, never prints or saves (STYLE.md principle 7). A run is a sequence of :class:`Stage`s; a stage may
grow the canvas (``param.grow``), and each stage gets a fresh optimiser and its own learning-rate
schedule (PII restarts its cosine schedule per stage). The model runs in eval mode with frozen weights,
and all hooks are released when the loop ends, also on error.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch.optim.lr_scheduler import LambdaLR

from genlens.errors import GenlensError
from genlens.inversion.augment import Transform, as_size
from genlens.inversion.context import Context, Objective, resolve_layer
from genlens.inversion.hooks import batchnorm_layers, capture_activations, capture_bn_stats
from genlens.inversion.params import ImageParam
from genlens.models.handle import ModelHandle
from genlens.training.schedule import CosineWarmup
from genlens.utils.modes import eval_mode, frozen

Callback = Callable[[dict[str, Any]], None]
OptimizerFactory = Callable[[list[torch.Tensor]], torch.optim.Optimizer]


@dataclass(frozen=True, kw_only=True)
class Stage:
    """``steps`` optimiser steps on a canvas of ``size`` (None keeps the current one). On entering a
    larger/smaller size, the image is resized to ``size - margin`` and pasted in fresh noise; ``margin``
    None means "keep the old image's pixel size" (pure centering), 0 a pure zoom."""

    steps: int
    size: int | tuple[int, int] | None = None
    margin: int | None = 0

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise GenlensError(f"a stage needs at least one step, got {self.steps}")


@dataclass(frozen=True, kw_only=True)
class AdamConfig:
    """``torch.optim.Adam`` settings; calling it on parameters builds the optimiser."""

    lr: float = 0.01
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0

    def __call__(self, params: list[torch.Tensor]) -> torch.optim.Optimizer:
        return torch.optim.Adam(params, lr=self.lr, betas=self.betas, eps=self.eps, weight_decay=self.weight_decay)


@dataclass
class RenderResult:
    images: torch.Tensor  # (B, C, H, W) in [0, 1], detached
    history: list[dict[str, Any]] = field(default_factory=list)  # one row per step: step, stage, size, lr, loss


class RenderDiverged(GenlensError):
    """The loss or the image became NaN/Inf; ``images`` holds the last finite images."""

    def __init__(self, message: str, *, step: int, images: torch.Tensor, history: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.step, self.images, self.history = step, images, history


def _lr_factor(schedule: str, steps: int, warmup: int) -> Callable[[int], float]:
    if schedule == "cosine":
        return CosineWarmup(total_steps=steps, warmup_steps=min(warmup, steps))
    if schedule == "constant":
        return lambda _step: 1.0
    raise GenlensError(f"unknown learning-rate schedule '{schedule}'; use cosine or constant")


@contextmanager
def objective_hooks(handle: ModelHandle, objective: Objective) -> Iterator[tuple[dict[str, torch.Tensor], list]]:
    """Hook what ``objective`` reads (its layers, BatchNorm inputs if needed); yields (activations, bn)."""
    layers = {resolve_layer(ref, handle): None for ref in objective.layers}
    modules = {name: handle.layer(name) for name in layers}  # one-line error for a missing layer
    if objective.needs_bn and not batchnorm_layers(handle.model):
        raise GenlensError(f"{handle.name} has no BatchNorm2d layers; drop the bn_stats term for this model")
    with ExitStack() as stack:
        acts = stack.enter_context(capture_activations(modules))
        bn = stack.enter_context(capture_bn_stats(handle.model)) if objective.needs_bn else []
        yield acts, bn


def evaluate(handle: ModelHandle, objective: Objective, image: torch.Tensor,
             batch: torch.Tensor | None = None) -> torch.Tensor:
    """``objective`` on ``image`` (B, C, H, W) (and an augmented ``batch``, default the image): (B,) losses,
    differentiable, with the model in eval mode and hooks released afterwards."""
    with eval_mode(handle.model), objective_hooks(handle, objective) as (acts, bn):
        ctx = Context(handle=handle, image=image, batch=image if batch is None else batch, activations=acts, bn=bn)
        return objective(ctx)


def render(
    handle: ModelHandle,
    objective: Objective,
    *,
    param: ImageParam,
    generator: torch.Generator,
    stages: Sequence[Stage] | int,
    transforms: Transform | None = None,
    optimizer: OptimizerFactory = AdamConfig(),
    schedule: Literal["cosine", "constant"] = "cosine",
    warmup_steps: int = 0,
    callback: Callback | None = None,
) -> RenderResult:
    """Minimise ``objective(ctx).mean()`` over the images of ``param``.

    ``stages`` is a list of :class:`Stage` or a plain step count (one stage). ``callback`` gets a dict per
    step: step (0-based, over all stages), total_steps, stage, size, lr, loss (float), losses (B,) and
    image (B, C, H, W) (the images that loss was computed on), both detached. On a NaN/Inf loss or image
    a :class:`RenderDiverged` is raised in one line naming the step; its ``.images`` are the newest finite
    images (those of the failing step when only the loss went bad, else the previous step's).
    """
    plan = [Stage(steps=stages)] if isinstance(stages, int) else list(stages)
    if not plan:
        raise GenlensError("render needs at least one stage")
    total = sum(s.steps for s in plan)
    history: list[dict[str, Any]] = []
    last_good = param.image().detach().clone()
    step = 0
    with ExitStack() as stack:
        stack.enter_context(eval_mode(handle.model))
        stack.enter_context(frozen(handle.model))
        acts, bn = stack.enter_context(objective_hooks(handle, objective))
        for k, stage in enumerate(plan):
            if stage.size is not None and as_size(stage.size) != param.size:
                old = param.size
                new = as_size(stage.size)
                margin = min(new) - min(old) if stage.margin is None else stage.margin
                param.grow(new, generator=generator, margin=max(0, margin))
            opt = optimizer(param.parameters())
            sched = LambdaLR(opt, lr_lambda=_lr_factor(schedule, stage.steps, warmup_steps))
            for _ in range(stage.steps):
                opt.zero_grad(set_to_none=True)
                image = param.image()
                batch = transforms(image, generator=generator) if transforms is not None else image
                ctx = Context(handle=handle, image=image, batch=batch, activations=acts, bn=bn)
                losses = objective(ctx)
                loss = losses.mean()
                if not torch.isfinite(loss) or not torch.isfinite(image).all():
                    finite_image = bool(torch.isfinite(image).all())
                    what = f"loss is {loss.item()}" if finite_image else "image is not finite"
                    raise RenderDiverged(
                        f"inversion diverged at step {step} of {total} ({what}); the last finite "
                        "images are attached as .images; lower the learning rate or add a prior (tv, blur)",
                        step=step, images=image.detach().clone() if finite_image else last_good, history=history,
                    )
                last_good = image.detach().clone()
                loss.backward()
                lr = opt.param_groups[0]["lr"]
                opt.step()
                sched.step()
                param.post_step()
                row = {"step": step, "stage": k, "size": tuple(param.size), "lr": lr, "loss": loss.item()}
                history.append(row)
                if callback is not None:
                    callback({**row, "total_steps": total, "losses": losses.detach(), "image": last_good})
                step += 1
    final = param.image().detach()
    if not torch.isfinite(final).all():
        raise RenderDiverged(
            f"inversion diverged at step {total} of {total} (image is not finite); the last finite images are "
            "attached as .images; lower the learning rate or add a prior (tv, blur)",
            step=total, images=last_good, history=history,
        )
    return RenderResult(images=final.clamp(0.0, 1.0), history=history)
