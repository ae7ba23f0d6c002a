"""Class-dependent effects (Balestriero, Bottou & LeCun 2022, arXiv 2204.03632): compare two classifiers class
by class, with bootstrap confidence intervals.

Per class c with n_c test images, the percentile bootstrap (Efron & Tibshirani 1993, ch. 13) resamples the
class's images with replacement ``n_boot`` times; the 95 % interval of the accuracy is the 2.5 / 97.5 %
quantiles of the resampled means. The comparison is paired: models A and B are scored on the SAME resampled
images, so the interval of the difference acc_B - acc_A accounts for their correlation. A class "loses
significantly" when the whole interval of the difference is below 0.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from genlens.data.base import ImageData
from genlens.errors import GenlensError
from genlens.models.handle import ModelHandle

MIN_PER_CLASS = 10  # fewer images per class give too coarse a resampling distribution for a percentile interval
MIN_BOOT = 100  # resamples: the 2.5 % tail must hold a few values


@dataclass
class ClassComparison:
    class_names: tuple[str, ...]
    n_per_class: list[int]
    acc_a: torch.Tensor  # (K,)
    acc_b: torch.Tensor
    ci_a: torch.Tensor  # (K, 2)
    ci_b: torch.Tensor
    diff: torch.Tensor  # (K,) acc_b - acc_a
    ci_diff: torch.Tensor  # (K, 2)
    losers: list[int]  # classes whose difference interval lies below 0
    gainers: list[int]  # ... above 0
    n_boot: int
    level: float

    def to_dict(self) -> dict[str, Any]:
        rows = []
        for k, name in enumerate(self.class_names):
            rows.append({"class": k, "name": name, "n": self.n_per_class[k],
                         "acc_a": float(self.acc_a[k]), "ci_a": self.ci_a[k].tolist(),
                         "acc_b": float(self.acc_b[k]), "ci_b": self.ci_b[k].tolist(),
                         "diff": float(self.diff[k]), "ci_diff": self.ci_diff[k].tolist()})
        return {"per_class": rows, "losers": self.losers, "gainers": self.gainers, "n_boot": self.n_boot,
                "level": self.level, "mean_acc_a": float(self.acc_a.mean()), "mean_acc_b": float(self.acc_b.mean())}


@torch.no_grad()
def per_class_correct(handle: ModelHandle, data: ImageData, *, batch_size: int = 1000) -> torch.Tensor:
    """(N,) bool: is each image classified correctly."""
    return handle.predict(data.float_images(), batch_size=batch_size).argmax(1) == data.labels


def check_bootstrap(labels: torch.Tensor, num_classes: int, n_boot: int, class_names=None) -> list[int]:
    """Counts per class, or a one-line error saying how many samples (and resamples) are needed."""
    if n_boot < MIN_BOOT:
        raise GenlensError(f"{n_boot} bootstrap resamples are too few for a 95 % interval; pass --n-boot {MIN_BOOT} "
                           "or more (1000 recommended)")
    counts = torch.bincount(labels, minlength=num_classes)[:num_classes].tolist()
    few = [k for k, n in enumerate(counts) if n < MIN_PER_CLASS]
    if few:
        k = few[0]
        name = class_names[k] if class_names else str(k)
        raise GenlensError(f"class '{name}' has {counts[k]} test images; the bootstrap needs at least {MIN_PER_CLASS} "
                           f"per class ({MIN_PER_CLASS * num_classes} balanced images in all); use more test images")
    return counts


def bootstrap_class_accuracy(correct: torch.Tensor, labels: torch.Tensor, num_classes: int, *, n_boot: int = 1000,
                             generator: torch.Generator | None = None,
                             extra: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Resampled per-class accuracies (n_boot, K); with ``extra`` (a second model's correctness on the same
    images) also its accuracies on the SAME resamples (paired bootstrap)."""
    gen = generator or torch.Generator().manual_seed(0)
    out = torch.empty(n_boot, num_classes)
    out_b = torch.empty(n_boot, num_classes) if extra is not None else None
    for k in range(num_classes):
        idx = torch.nonzero(labels == k).flatten()
        draw = idx[torch.randint(0, len(idx), (n_boot, len(idx)), generator=gen)]  # (n_boot, n_k)
        out[:, k] = correct[draw].float().mean(1)
        if out_b is not None:
            out_b[:, k] = extra[draw].float().mean(1)
    return out, out_b


def _interval(samples: torch.Tensor, level: float) -> torch.Tensor:
    lo = (1 - level) / 2
    return torch.stack([samples.quantile(lo, dim=0), samples.quantile(1 - lo, dim=0)], dim=1)  # (K, 2)


def compare_classes(correct_a: torch.Tensor, correct_b: torch.Tensor, labels: torch.Tensor,
                    class_names: tuple[str, ...], *, n_boot: int = 1000, seed: int = 0,
                    level: float = 0.95) -> ClassComparison:
    """Per-class accuracy of A and B with percentile intervals, and the paired interval of B - A."""
    k = len(class_names)
    counts = check_bootstrap(labels, k, n_boot, class_names)
    gen = torch.Generator().manual_seed(seed)
    boot_a, boot_b = bootstrap_class_accuracy(correct_a, labels, k, n_boot=n_boot, generator=gen, extra=correct_b)
    acc_a = torch.stack([correct_a[labels == c].float().mean() for c in range(k)])
    acc_b = torch.stack([correct_b[labels == c].float().mean() for c in range(k)])
    ci_diff = _interval(boot_b - boot_a, level)
    return ClassComparison(class_names=tuple(class_names), n_per_class=counts, acc_a=acc_a, acc_b=acc_b,
                           ci_a=_interval(boot_a, level), ci_b=_interval(boot_b, level), diff=acc_b - acc_a,
                           ci_diff=ci_diff, losers=[c for c in range(k) if ci_diff[c, 1] < 0],
                           gainers=[c for c in range(k) if ci_diff[c, 0] > 0], n_boot=n_boot, level=level)
