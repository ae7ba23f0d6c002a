"""Small pieces the inversion methods share: target lists, step scaling, the method signature."""
from __future__ import annotations

import dataclasses
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


class _CanvasSizeHandle(ModelHandle):
    """A handle that normalises without resizing: the model sees the canvas at its own size."""

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        c = self.input_size[0]
        if x.ndim != 4 or x.shape[1] != c:
            raise GenlensError(f"{self.name} expects images shaped (B, {c}, H, W); got {tuple(x.shape)}")
        mean = torch.tensor(self.mean, device=x.device, dtype=x.dtype).view(1, c, 1, 1)
        std = torch.tensor(self.std, device=x.device, dtype=x.dtype).view(1, c, 1, 1)
        return (x - mean) / std


def accepts_size(handle: ModelHandle, size: tuple[int, int]) -> bool:
    """Whether the model gives (1, classes) logits for a ``size`` input without resizing: true for a CNN with
    global pooling, false for a ViT/Mixer/ResMLP whose token count is fixed (they raise on another size)."""
    from genlens.utils.modes import eval_mode

    x = torch.full((1, handle.input_size[0], *size), 0.5, device=handle.device)
    try:
        with torch.no_grad(), eval_mode(handle.model):
            out = handle.model(x)
    except (RuntimeError, AssertionError, ValueError):
        return False
    return isinstance(out, torch.Tensor) and tuple(out.shape) == (1, handle.num_classes)


def canvas_handle(handle: ModelHandle, smallest: tuple[int, int]) -> ModelHandle:
    """``handle`` feeding each canvas at its own size where the model accepts the ``smallest`` canvas (CNNs, as
    the official PII code feeds them), else ``handle`` itself (resize to the input size: transformers, MLPs).
    The copy shares the model, so hooks, eval mode and freezing reach the same weights."""
    if not accepts_size(handle, smallest):
        return handle
    fields = {f.name: getattr(handle, f.name) for f in dataclasses.fields(handle)}
    return _CanvasSizeHandle(**fields)
