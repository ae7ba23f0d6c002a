"""Top-1 / top-5 / per-class accuracy and the confusion matrix of a classifier handle."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from genlens.data.base import ImageData
from genlens.models.handle import ModelHandle


@dataclass
class EvalReport:
    top1: float
    top5: float
    per_class: dict[str, float]
    confusion: torch.Tensor  # (K, K) counts, rows = true class, columns = predicted
    n: int


def evaluate_classifier(handle: ModelHandle, data: ImageData, *, batch_size: int = 1000) -> EvalReport:
    logits = handle.predict(data.float_images(), batch_size=batch_size)
    y = data.labels
    k = handle.num_classes
    top = logits.topk(min(5, k), dim=1).indices
    top1 = (top[:, 0] == y).float()
    top5 = (top == y[:, None]).any(1).float()
    conf = torch.zeros(k, k, dtype=torch.long)
    conf.index_put_((y, top[:, 0]), torch.ones_like(y), accumulate=True)
    per = {}
    for c, name in enumerate(handle.class_names):
        m = y == c
        per[name] = float(top1[m].mean()) if m.any() else float("nan")
    return EvalReport(top1=float(top1.mean()), top5=float(top5.mean()), per_class=per, confusion=conf, n=len(y))
