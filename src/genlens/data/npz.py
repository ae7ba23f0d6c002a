"""Image sets stored as ``.npz``: ``images`` (N,H,W), (N,C,H,W) or (N,H,W,C), uint8 or float in [0,1];
optional ``labels`` (N,) and ``class_names``. Without ``labels`` (or with one class) the data is unlabelled
(``ImageData.labelled`` False). Resolution and channels are applied by :func:`genlens.data.options.apply_options`."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from genlens.data.base import ImageData
from genlens.errors import GenlensError


def load_npz(path: str | Path) -> ImageData:
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:  # never unpickle user files
            if "images" not in z:
                raise GenlensError(f"'{path}' has no 'images' array (found {sorted(z.files)}); save with images=...")
            images = z["images"]
            labelled = "labels" in z
            labels = z["labels"] if labelled else np.zeros(len(images), dtype=np.int64)
            names = tuple(str(n) for n in z["class_names"]) if "class_names" in z else None
    except (OSError, ValueError) as exc:
        raise GenlensError(f"'{path}' is not a readable .npz file ({exc}); save it with numpy.savez") from None
    x = torch.from_numpy(np.ascontiguousarray(images))
    if x.ndim == 3:
        x = x.unsqueeze(1)
    elif x.ndim == 4 and x.shape[-1] in (1, 3) and x.shape[1] not in (1, 3):
        x = x.permute(0, 3, 1, 2)
    if x.ndim != 4:
        raise GenlensError(f"'{path}' images have shape {tuple(images.shape)}; expected (N,H,W) or (N,C,H,W)")
    if x.dtype != torch.uint8:
        x = (x.float().clamp(0, 1) * 255).round().to(torch.uint8)
    y = torch.from_numpy(np.asarray(labels).astype(np.int64))
    if names is None:
        names = tuple(str(i) for i in range(int(y.max()) + 1 if len(y) else 1))
    labelled = labelled and len(names) > 1
    return ImageData(x.contiguous(), y, names, name=f"npz/{path.stem}", labelled=labelled,
                     notes=() if labelled else (f"'{path}' has no labels (or one class): training is unconditional",))
