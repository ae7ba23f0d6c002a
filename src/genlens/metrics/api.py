"""Image-level metrics: extractor + feature maths, with the extractor and sample counts in every result.

``compute_fid(real, fake, extractor="genlens-fmnist")`` etc. take [0, 1] images (N, C, H, W) (uint8
is accepted and scaled); the extractor is a registered name (``genlens-fmnist``, ``genlens-eval``,
``inception``), ``inception:FILE``, a zoo model name or folder, ``timm:NAME[:FILE]``, a :class:`ModelHandle`
(e.g. from ``genlens.wrap``), or an extractor object; every result names it (only ``inception``, pytorch-fid's
weights, gives FIDs comparable with published numbers). ``real`` may be precomputed :class:`FeatureStats` for FID.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from genlens.metrics.extractors import FeatureExtractor, extractor_for
from genlens.metrics.fid import FeatureStats, fid_from_stats
from genlens.metrics.inception_score import inception_score
from genlens.metrics.inputs import check_images01
from genlens.metrics.kid import kid_from_features
from genlens.metrics.precision_recall import PrecisionRecall, precision_recall
from genlens.models.handle import ModelHandle
from genlens.utils import config_io

ExtractorSpec = str | ModelHandle | FeatureExtractor


@dataclass(frozen=True)
class MetricResult:
    """One reported score: what, how much, with which extractor, on how many samples."""

    metric: str  # "fid" | "kid" | "is"
    value: float
    extractor: str
    n_fake: int
    n_real: int | None = None  # None for IS, which uses no reference set
    std: float | None = None  # over subsets (KID) or splits (IS)

    def to_dict(self) -> dict[str, Any]:
        return config_io.to_dict(self)


def feature_stats(
    images01: torch.Tensor, *, extractor: ExtractorSpec = "genlens-fmnist", device: str = "cpu"
) -> FeatureStats:
    """Mean/covariance of a reference set's features, to cache and pass as ``real`` to :func:`compute_fid`."""
    ext = extractor_for(extractor, device=device)
    x = check_images01(images01, what="images")
    return FeatureStats.from_features(ext.features(x), extractor=ext.name)


def compute_fid(
    real_images01: torch.Tensor | FeatureStats,
    fake_images01: torch.Tensor,
    *,
    extractor: ExtractorSpec = "genlens-fmnist",
    device: str = "cpu",
) -> MetricResult:
    """FID (Heusel et al. 2017) between real and fake images under ``extractor``."""
    ext = extractor_for(extractor, device=device)
    if isinstance(real_images01, FeatureStats):
        real = real_images01
    else:
        real = FeatureStats.from_features(
            ext.features(check_images01(real_images01, what="real images")), extractor=ext.name
        )
    fake_x = check_images01(fake_images01, what="fake images")
    fake = FeatureStats.from_features(ext.features(fake_x), extractor=ext.name)
    value = fid_from_stats(real, fake)
    return MetricResult(metric="fid", value=value, extractor=ext.name, n_real=real.n, n_fake=fake.n)


def compute_kid(
    real_images01: torch.Tensor,
    fake_images01: torch.Tensor,
    *,
    extractor: ExtractorSpec = "genlens-fmnist",
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
    device: str = "cpu",
) -> MetricResult:
    """KID (Bińkowski et al. 2018): mean and std of unbiased MMD² over random subsets."""
    ext = extractor_for(extractor, device=device)
    real = check_images01(real_images01, what="real images")
    fake = check_images01(fake_images01, what="fake images")
    mean, std = kid_from_features(
        ext.features(real),
        ext.features(fake),
        subsets=subsets,
        subset_size=subset_size,
        generator=torch.Generator().manual_seed(seed),
    )
    return MetricResult(
        metric="kid", value=mean, std=std, extractor=ext.name, n_real=real.shape[0], n_fake=fake.shape[0]
    )


def compute_inception_score(
    images01: torch.Tensor,
    *,
    extractor: ExtractorSpec = "genlens-fmnist",
    splits: int = 10,
    device: str = "cpu",
) -> MetricResult:
    """IS (Salimans et al. 2016) of images under ``extractor``'s classifier; splits in the given order."""
    ext = extractor_for(extractor, device=device)
    x = check_images01(images01, what="images")
    mean, std = inception_score(logits=ext.logits(x), splits=splits)
    return MetricResult(metric="is", value=mean, std=std, extractor=ext.name, n_fake=x.shape[0])


def compute_precision_recall(
    real_images01: torch.Tensor,
    fake_images01: torch.Tensor,
    *,
    extractor: ExtractorSpec = "genlens-fmnist",
    k: int = 3,
    device: str = "cpu",
) -> PrecisionRecall:
    """Improved precision (fidelity) and recall (coverage), Kynkäänniemi et al. 2019, under ``extractor``."""
    ext = extractor_for(extractor, device=device)
    real = ext.features(check_images01(real_images01, what="real images"))
    fake = ext.features(check_images01(fake_images01, what="fake images"))
    return precision_recall(real, fake, k=k, extractor=ext.name)
