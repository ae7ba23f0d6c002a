"""FID and KID of generated images against a model's own training data, under an extractor the user names.

For generators trained on data other than Fashion-MNIST (``genlens diffusion eval`` / ``genlens gan eval`` on a
trained folder): there is no shipped evaluator for that data, so the features come from ``--features`` (a
classifier folder trained on the same data with ``genlens zoo train ARCH``, a zoo name, or a registered
extractor). The scores name the extractor and both sample counts; they compare models under that extractor
only (DESIGN.md section 3, "Metrics").
"""
from __future__ import annotations

from typing import Any

import torch

from genlens.metrics.api import MetricResult
from genlens.metrics.extractors import extractor_for
from genlens.metrics.fid import FeatureStats, fid_from_stats
from genlens.metrics.kid import kid_from_features


def fid_kid_against(fake01: torch.Tensor, real01: torch.Tensor, *, features: Any, device: str = "cpu",
                    seed: int = 0) -> dict[str, Any]:
    """``{"fid", "kid"}`` (MetricResult dicts) of ``fake01`` against ``real01``, both (N, C, H, W) in [0, 1]."""
    ext = extractor_for(features, device=device)
    real, fake = ext.features(real01), ext.features(fake01)
    stats = [FeatureStats.from_features(f, extractor=ext.name) for f in (real, fake)]
    fid = MetricResult(metric="fid", value=fid_from_stats(*stats), extractor=ext.name, n_real=len(real),
                       n_fake=len(fake))
    size = min(1000, len(real), len(fake))
    mean, std = kid_from_features(real, fake, subsets=100, subset_size=size,
                                  generator=torch.Generator().manual_seed(seed))
    kid = MetricResult(metric="kid", value=mean, std=std, extractor=ext.name, n_real=len(real), n_fake=len(fake))
    return {"fid": fid.to_dict(), "kid": kid.to_dict()}
