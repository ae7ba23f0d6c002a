"""Pick example images per class (for grids and reports)."""
from __future__ import annotations

import torch

from genlens.data.base import ImageData


def per_class_sample(data: ImageData, n: int, *, seed: int = 0) -> torch.Tensor:
    """(K*n, C, H, W) float images in [0, 1], class-major order; fewer if a class has fewer images."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for c in range(data.num_classes):
        idx = (data.labels == c).nonzero().flatten()
        pick = idx[torch.randperm(len(idx), generator=g)[:n]]
        out.append(data.float_images(pick))
    return torch.cat(out)
