"""scikit-learn's 8x8 handwritten digits (ships inside scikit-learn, so always offline)."""
from __future__ import annotations

import torch

from genlens.data.base import ImageData

DIGIT_NAMES = tuple(str(i) for i in range(10))


def load_digits(split: str = "train", *, test_fraction: float = 0.2) -> ImageData:
    """Deterministic split: every 5th image (by default) goes to ``test``."""
    from sklearn.datasets import load_digits as _sk

    bunch = _sk()
    x = torch.from_numpy((bunch.images * (255.0 / 16.0)).round().astype("uint8")).unsqueeze(1)  # (N,1,8,8)
    y = torch.from_numpy(bunch.target.astype("int64"))
    step = max(2, round(1 / test_fraction))
    is_test = torch.arange(len(y)) % step == 0
    keep = is_test if split == "test" else ~is_test
    return ImageData(x[keep], y[keep], DIGIT_NAMES, name=f"digits/{split}")
