"""Evaluation as in the PII paper: images inverted from one model are classified by *other* models.

The inverted model's own confidence says little (it can be fooled by textures only it believes), so
success is the top-1/top-5 of independent judges on the intended classes, plus the Inception Score
of the images under the genlens-fmnist extractor.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from genlens.metrics import compute_inception_score, judge
from genlens.models.handle import ModelHandle


def cross_model_eval(images01: torch.Tensor, labels: torch.Tensor, judges: Sequence[ModelHandle], *,
                     source: str = "", with_is: bool = True) -> dict[str, Any]:
    """Per judge: top-1/top-5 overall and per class; the mean top-1 over the judges that are not ``source``."""
    per_judge = {}
    for h in judges:
        rep = judge(h, images01, labels)
        per_judge[h.name] = {"top1": rep.top1, "top5": rep.top5,
                             "per_class": {c: r["top1"] for c, r in rep.to_dict()["per_class"].items()}}
    others = [v["top1"] for k, v in per_judge.items() if k != source]
    out: dict[str, Any] = {"source": source, "n": int(images01.shape[0]), "judges": per_judge,
                           "cross_top1_mean": sum(others) / len(others) if others else float("nan")}
    if with_is and images01.shape[0] >= 2:
        out["inception_score"] = compute_inception_score(images01, splits=min(10, images01.shape[0] // 2)).to_dict()
    return out
