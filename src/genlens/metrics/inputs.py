"""Validation shared by the metrics: feature matrices and [0, 1] image batches, with one-line errors."""

from __future__ import annotations

import torch

from genlens.errors import GenlensError

_RANGE_TOL = 1e-3  # allow rounding noise around [0, 1]


def _check_batch(x: torch.Tensor, *, what: str, ndim: int, shaped: str, unit: str, min_n: int) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != ndim:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise GenlensError(f"{what} must be {shaped}; got {shape}")
    if x.shape[0] < min_n:
        raise GenlensError(f"{what} has {x.shape[0]} {unit}; at least {min_n} are needed, pass more images")


def check_features(x: torch.Tensor, *, what: str, min_n: int = 2) -> torch.Tensor:
    """(N, D) features as float64; fewer than ``min_n`` rows or non-finite values fail in one line."""
    _check_batch(x, what=what, ndim=2, shaped="a (N, D) feature tensor", unit="samples", min_n=min_n)
    x = x.detach().to(torch.float64)
    if not torch.isfinite(x).all():
        raise GenlensError(f"{what} contains NaN or inf; check the images and the extractor")
    return x


def check_same_dim(a: torch.Tensor, b: torch.Tensor) -> None:
    if a.shape[1] != b.shape[1]:
        raise GenlensError(
            f"feature sizes differ ({a.shape[1]} vs {b.shape[1]}); compute both sets with the same extractor"
        )


def check_images01(x: torch.Tensor, *, what: str, min_n: int = 2) -> torch.Tensor:
    """(N, C, H, W) images in [0, 1] as float32 (uint8 is scaled by 1/255); else a one-line error."""
    _check_batch(x, what=what, ndim=4, shaped="images shaped (N, C, H, W)", unit="images", min_n=min_n)
    if x.shape[1] not in (1, 3):
        raise GenlensError(f"{what} has {x.shape[1]} channels; pass grayscale (1) or RGB (3) images")
    if x.dtype == torch.uint8:
        return x.float().div_(255.0)
    if not x.is_floating_point():
        raise GenlensError(f"{what} has dtype {x.dtype}; pass float images in [0, 1] or uint8 in [0, 255]")
    lo, hi = float(x.min()), float(x.max())
    if not (lo >= -_RANGE_TOL and hi <= 1 + _RANGE_TOL):
        hint = "; images in [-1, 1] need (x + 1) / 2" if lo < -_RANGE_TOL else ""
        raise GenlensError(f"{what} must be in [0, 1]; got values in [{lo:.3g}, {hi:.3g}]{hint}")
    return x.float().clamp(0, 1)
