"""Judge generated or inverted images by a classifier's accuracy on their intended classes.

"Judge success by other models' accuracy on the images, never by the inverted model's own confidence"
(DESIGN.md section 4): pass a handle that did *not* make the images.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from genlens.errors import GenlensError
from genlens.metrics.extractors import match_channels
from genlens.metrics.inputs import check_images01
from genlens.models.handle import ModelHandle
from genlens.utils import config_io


@dataclass(frozen=True)
class JudgeReport:
    """Top-1/top-5 accuracy overall and per intended class, and how often each class was predicted."""

    judge: str  # the judging model's name
    n: int
    top1: float
    top5: float
    k: int  # the "top-5" k, min(5, number of classes)
    per_class: dict[str, dict[str, float]]  # intended class name -> {"top1", "top5", "n"}
    predicted_histogram: dict[str, int] = field(default_factory=dict)  # class name -> count (all classes)

    def to_dict(self) -> dict[str, Any]:
        return config_io.to_dict(self)


def _intended(labels: torch.Tensor | Sequence[int | str], handle: ModelHandle, n: int) -> torch.Tensor:
    if isinstance(labels, torch.Tensor):
        y = labels.detach().cpu().long().reshape(-1)
    else:
        y = torch.tensor([handle.class_index(v) for v in labels], dtype=torch.long)
    if y.shape[0] != n:
        raise GenlensError(f"got {n} images but {y.shape[0]} intended labels; pass one label per image")
    if y.numel() and (y.min() < 0 or y.max() >= handle.num_classes):
        raise GenlensError(f"intended labels must be in [0, {handle.num_classes - 1}] for {handle.name}")
    return y


def judge(
    handle: ModelHandle,
    images01: torch.Tensor,
    intended_labels: torch.Tensor | Sequence[int | str],
    *,
    batch_size: int = 512,
) -> JudgeReport:
    """Classify ``images01`` (N, C, H, W) in [0, 1] with ``handle`` and score against ``intended_labels``.

    Labels may be indices or class names; images are converted to the handle's channels and size.
    """
    x = check_images01(images01, what="images", min_n=1)
    y = _intended(intended_labels, handle, x.shape[0])  # (N,)
    logits = handle.predict(match_channels(x, handle.input_size[0]), batch_size=batch_size)  # (N, K)
    k = min(5, handle.num_classes)
    topk = logits.topk(k, dim=1).indices  # (N, k)
    hit1 = topk[:, 0] == y
    hitk = (topk == y[:, None]).any(dim=1)
    per_class: dict[str, dict[str, float]] = {}
    for c in y.unique().tolist():
        m = y == c
        per_class[handle.class_names[c]] = {
            "top1": float(hit1[m].float().mean()),
            "top5": float(hitk[m].float().mean()),
            "n": int(m.sum()),
        }
    counts = torch.bincount(topk[:, 0], minlength=handle.num_classes).tolist()
    return JudgeReport(
        judge=handle.name,
        n=int(x.shape[0]),
        top1=float(hit1.float().mean()),
        top5=float(hitk.float().mean()),
        k=k,
        per_class=per_class,
        predicted_histogram=dict(zip(handle.class_names, counts)),
    )
