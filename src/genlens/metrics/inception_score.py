"""Inception Score (IS: Salimans et al., "Improved Techniques for Training GANs", NeurIPS 2016, section 4).

    IS = exp( E_x KL( p(y|x) || p(y) ) ),   p(y) = E_x p(y|x)

estimated on ``splits`` chunks of the samples; returns the mean and (unbiased) std over chunks. The
conventions follow torchmetrics' ``InceptionScore``: softmax of logits, ``torch.chunk`` into splits (so
fewer chunks when N is not a multiple), unbiased std, and an optional random permutation first.
Uniform predictions give IS = 1; confident, class-balanced predictions give IS = number of classes.
"""

from __future__ import annotations

import torch

from genlens.errors import GenlensError
from genlens.metrics.inputs import check_features


def inception_score(
    *,
    logits: torch.Tensor | None = None,
    probs: torch.Tensor | None = None,
    splits: int = 10,
    generator: torch.Generator | None = None,
) -> tuple[float, float]:
    """(mean, std) of IS from (N, K) ``logits`` or (N, K) class ``probs`` (exactly one of the two).

    ``generator`` shuffles the samples before splitting (as torchmetrics does with the global RNG);
    None keeps the given order, which is deterministic.
    """
    if (logits is None) == (probs is None):
        raise GenlensError("inception_score takes exactly one of logits= or probs=")
    if splits < 1:
        raise GenlensError(f"splits must be >= 1; got {splits}")
    if logits is not None:
        z = check_features(logits, what="logits")  # (N, K) float64
        p = z.softmax(dim=1)
        p_log_p = p * z.log_softmax(dim=1)
    else:
        p = check_features(probs, what="probs")  # type: ignore[arg-type]
        if (p < 0).any() or not torch.allclose(p.sum(dim=1), torch.ones_like(p[:, 0]), atol=1e-4):
            raise GenlensError("probs must be non-negative rows summing to 1; pass logits= for raw scores")
        p_log_p = torch.special.xlogy(p, p)  # 0 log 0 = 0 for one-hot rows
    if generator is not None:
        idx = torch.randperm(p.shape[0], generator=generator).to(p.device)
        p, p_log_p = p[idx], p_log_p[idx]
    scores = []
    for pc, plp in zip(p.chunk(splits, dim=0), p_log_p.chunk(splits, dim=0)):
        marginal = pc.mean(dim=0, keepdim=True)  # p(y) on this split, (1, K)
        kl = (plp - torch.special.xlogy(pc, marginal)).sum(dim=1)  # KL(p(y|x) || p(y)), (n,)
        scores.append(kl.mean().exp())
    s = torch.stack(scores)
    std = float(s.std()) if s.numel() > 1 else 0.0
    return float(s.mean()), std
