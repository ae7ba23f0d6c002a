"""Composable tensor -> tensor augmentations for inversion (lucid ``transforms``, our own code).

Every transform is called as ``t(x, generator=g)`` on a batch (N, C, H, W) and draws *all* its randomness
from ``g`` (DESIGN.md section 3, "Randomness"), so a seeded run repeats exactly. Draws happen on the
generator's device and are moved to the images' device, so a CPU generator also drives a GPU run.

Batch layout: :class:`Repeat` tiles the batch copy-major (``x.repeat(e, 1, 1, 1)``), so row ``i`` of an
augmented batch shows image ``i % B``. Objectives rely on that (see ``context.Context.per_image``).
"""
from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import torch
import torch.nn.functional as F

from genlens.errors import GenlensError
from genlens.registry import Registry


class Transform(Protocol):
    def __call__(self, x: torch.Tensor, *, generator: torch.Generator) -> torch.Tensor: ...


AUGMENTATIONS: Registry[Transform] = Registry("augmentation")


# --- random draws through a generator ------------------------------------------------------------
def uniform(shape: Sequence[int], low: float, high: float, *, generator: torch.Generator,
            like: torch.Tensor) -> torch.Tensor:
    """U(low, high) of ``shape``, drawn on the generator's device, returned on ``like``'s device/dtype."""
    u = torch.rand(tuple(shape), generator=generator, device=generator.device)
    return (low + (high - low) * u).to(device=like.device, dtype=like.dtype)


def randint(low: int, high: int, shape: Sequence[int], *, generator: torch.Generator) -> list[int]:
    """Integers in [low, high] inclusive, as a Python list (for ``torch.roll`` shifts)."""
    return torch.randint(low, high + 1, tuple(shape), generator=generator, device=generator.device).tolist()


# --- centering / zoom helpers (Plug-In Inversion's centering + zoom, arXiv 2201.12961 section 4) ----
def as_size(size: int | Sequence[int]) -> tuple[int, int]:
    """``28`` or ``(28, 28)`` -> ``(28, 28)``."""
    if isinstance(size, int):
        return (size, size)
    h, w = (int(s) for s in size)
    return (h, w)


def zoom(x: torch.Tensor, size: int | Sequence[int]) -> torch.Tensor:
    """Resize (B, C, H, W) to ``size`` bilinearly (antialiased when shrinking); identity if equal."""
    hw = as_size(size)
    if tuple(x.shape[-2:]) == hw:
        return x
    shrink = hw[0] < x.shape[-2] or hw[1] < x.shape[-1]
    return F.interpolate(x, size=hw, mode="bilinear", align_corners=False, antialias=shrink)


def paste_center(inner: torch.Tensor, canvas: torch.Tensor) -> torch.Tensor:
    """A copy of ``canvas`` (B, C, H, W) with ``inner`` (B, C, h, w), h <= H, w <= W, in its centre."""
    (h, w), (hh, ww) = inner.shape[-2:], canvas.shape[-2:]
    if h > hh or w > ww:
        raise GenlensError(f"cannot paste a {h}x{w} image into a {hh}x{ww} canvas; the canvas must be larger")
    top, left = (hh - h) // 2, (ww - w) // 2
    out = canvas.clone()
    out[..., top : top + h, left : left + w] = inner
    return out


def center_crop(x: torch.Tensor, size: int | Sequence[int]) -> torch.Tensor:
    """The central ``size`` window of (B, C, H, W) (the inverse of :func:`paste_center`)."""
    h, w = as_size(size)
    hh, ww = x.shape[-2:]
    top, left = (hh - h) // 2, (ww - w) // 2
    return x[..., top : top + h, left : left + w]


# --- transforms ------------------------------------------------------------------------------------
@AUGMENTATIONS.register("jitter")
@dataclass(frozen=True, kw_only=True)
class Jitter:
    """Roll the image by up to ±``limit`` pixels in x and y (``torch.roll``, so content wraps around).

    ``limit = max(pixels, round(fraction * min(H, W)))``, measured on the image it is given, so a
    fractional jitter follows a growing canvas (PII: ±1/7 of the size). One shift for the whole batch,
    as the PII code does, unless ``per_sample``.
    """

    pixels: int = 0
    fraction: float = 0.0
    per_sample: bool = False

    def __post_init__(self) -> None:
        if self.pixels < 0 or not 0.0 <= self.fraction < 1.0:
            raise GenlensError("jitter needs pixels >= 0 and 0 <= fraction < 1")

    def limit(self, height: int, width: int) -> int:
        return max(self.pixels, round(self.fraction * min(height, width)))

    def __call__(self, x: torch.Tensor, *, generator: torch.Generator) -> torch.Tensor:
        k = self.limit(*x.shape[-2:])
        if k == 0:
            return x
        if not self.per_sample:
            dy, dx = randint(-k, k, (2,), generator=generator)
            return torch.roll(x, shifts=(dy, dx), dims=(2, 3))
        shifts = randint(-k, k, (x.shape[0], 2), generator=generator)
        return torch.cat([torch.roll(x[i : i + 1], shifts=tuple(s), dims=(2, 3)) for i, s in enumerate(shifts)])


@AUGMENTATIONS.register("color_shift")
@dataclass(frozen=True, kw_only=True)
class ColorShift:
    """``x * exp(U(-mul, mul)) + U(-add, add)``, one draw per channel per row (PII: mul = add = 1).

    The PII code writes it as ``(x - m) / s`` with ``m ~ U(-1, 1)``, ``s = exp(U(-1, 1))``; that is the
    same family of random affine colour maps.
    """

    mul: float = 1.0
    add: float = 1.0

    def __post_init__(self) -> None:
        if self.mul < 0 or self.add < 0:
            raise GenlensError("color_shift magnitudes must be >= 0")

    def __call__(self, x: torch.Tensor, *, generator: torch.Generator) -> torch.Tensor:
        n, c = x.shape[:2]
        log_scale = uniform((n, c, 1, 1), -self.mul, self.mul, generator=generator, like=x)
        shift = uniform((n, c, 1, 1), -self.add, self.add, generator=generator, like=x)
        return x * log_scale.exp() + shift


@AUGMENTATIONS.register("repeat")
@dataclass(frozen=True, kw_only=True)
class Repeat:
    """Tile the batch into an ensemble of ``copies`` (copy-major); later transforms treat each copy alone."""

    copies: int = 4

    def __post_init__(self) -> None:
        if self.copies < 1:
            raise GenlensError(f"repeat needs copies >= 1, got {self.copies}")

    def __call__(self, x: torch.Tensor, *, generator: torch.Generator) -> torch.Tensor:
        return x.repeat(self.copies, 1, 1, 1)


Ensemble = Repeat  # the PII paper's name for it


@AUGMENTATIONS.register("flip")
@dataclass(frozen=True, kw_only=True)
class Flip:
    """Mirror each row left-right with probability ``p`` (DeepInversion uses flips; PII does not)."""

    p: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.p <= 1.0:
            raise GenlensError(f"flip probability must be in [0, 1], got {self.p}")

    def __call__(self, x: torch.Tensor, *, generator: torch.Generator) -> torch.Tensor:
        flip = uniform((x.shape[0],), 0.0, 1.0, generator=generator, like=x) < self.p
        return torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)


@AUGMENTATIONS.register("affine")
@dataclass(frozen=True, kw_only=True)
class RandomAffine:
    """Small random rotation (±``degrees``), isotropic scale in ``scale`` and translation (±``translate``
    of the size) per row, via ``affine_grid``/``grid_sample`` with reflection padding."""

    degrees: float = 5.0
    scale: tuple[float, float] = (0.95, 1.05)
    translate: float = 0.05
    padding_mode: str = "reflection"

    def __post_init__(self) -> None:
        lo, hi = self.scale
        if not 0 < lo <= hi or self.degrees < 0 or self.translate < 0:
            raise GenlensError("affine needs degrees >= 0, 0 < scale[0] <= scale[1] and translate >= 0")

    def __call__(self, x: torch.Tensor, *, generator: torch.Generator) -> torch.Tensor:
        n = x.shape[0]
        angle = uniform((n,), -self.degrees, self.degrees, generator=generator, like=x) * (math.pi / 180)
        s = uniform((n,), *self.scale, generator=generator, like=x)
        t = uniform((n, 2), -2 * self.translate, 2 * self.translate, generator=generator, like=x)  # grid is [-1, 1]
        cos, sin = angle.cos() / s, angle.sin() / s  # sampling grid maps output -> input, hence 1/s
        theta = torch.stack([torch.stack([cos, -sin, t[:, 0]], 1), torch.stack([sin, cos, t[:, 1]], 1)], 1)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode=self.padding_mode, align_corners=False)


@dataclass(frozen=True)
class Compose:
    """Apply transforms left to right, all from the same generator."""

    transforms: tuple[Transform, ...] = field(default_factory=tuple)

    def __init__(self, transforms: Sequence[Transform] = ()) -> None:
        object.__setattr__(self, "transforms", tuple(transforms))

    def __call__(self, x: torch.Tensor, *, generator: torch.Generator) -> torch.Tensor:
        for t in self.transforms:
            x = t(x, generator=generator)
        return x

    def __iter__(self) -> Iterator[Transform]:
        return iter(self.transforms)

    def __len__(self) -> int:
        return len(self.transforms)
