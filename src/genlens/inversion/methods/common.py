"""Small pieces the inversion methods share: target lists, step scaling, the method signature."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import torch

from genlens.errors import GenlensError
from genlens.inversion.render import Callback
from genlens.models.handle import ModelHandle


class MethodFn(Protocol):
    """``run(handle, targets (B,), *, config, generator, steps_scale, callback) -> (B, C, H, W) in [0, 1]``."""

    def __call__(self, handle: ModelHandle, targets: torch.Tensor, *, config: Any, generator: torch.Generator,
                 steps_scale: float, callback: Callback | None) -> torch.Tensor: ...


def resolve_targets(handle: ModelHandle, targets: int | str | Sequence[int | str] | torch.Tensor) -> list[int]:
    """Class names or indices (one or many) -> indices; one-line errors for unknown classes."""
    if isinstance(targets, torch.Tensor):
        targets = targets.reshape(-1).tolist()
    if isinstance(targets, (int, str)):
        targets = [targets]
    out = [handle.class_index(t) for t in targets]
    if not out:
        raise GenlensError("no target classes given; pass a class name or index (or several)")
    return out


def scale_steps(steps: int, scale: float) -> int:
    """``steps * scale`` rounded, at least 1 (``steps_scale`` shrinks runs for tests and previews)."""
    if scale <= 0:
        raise GenlensError(f"steps_scale must be > 0, got {scale}")
    return max(1, round(steps * scale))


def final_size(handle: ModelHandle) -> tuple[int, int]:
    _, h, w = handle.input_size
    return (h, w)


def fraction_of(size: tuple[int, int], fraction: float) -> tuple[int, int]:
    """``fraction`` of a (H, W) size, rounded, at least 1 pixel."""
    return (max(1, round(size[0] * fraction)), max(1, round(size[1] * fraction)))


def build_param(kind: str, *, batch: int, channels: int, size: tuple[int, int], generator: torch.Generator,
                device: torch.device, blur_sigma: float = 0.0, init=None):
    """An image parameterisation by name (``pixels``, ``blur``, ``fft``)."""
    from genlens.inversion.params import PARAMETERISATIONS

    kw: dict[str, Any] = {"batch": batch, "channels": channels, "size": size, "generator": generator,
                          "device": device, "init": init}
    if kind == "blur":
        kw["sigma"] = blur_sigma
    return PARAMETERISATIONS.create(kind, **kw)
