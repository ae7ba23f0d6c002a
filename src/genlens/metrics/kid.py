"""Kernel Inception Distance (KID: Bińkowski et al., "Demystifying MMD GANs", ICLR 2018).

KID is the unbiased estimator of the squared maximum mean discrepancy (Gretton et al. 2012, JMLR,
Lemma 6 / eq. 3) with the cubic polynomial kernel k(x, y) = (x·y / d + 1)^3 (Bińkowski et al. 2018,
section 4), averaged over random subsets of equal size m:

    MMD²_u = 1/(m(m-1)) Σ_{i≠j} [k(x_i, x_j) + k(y_i, y_j)] - 2/m² Σ_{i,j} k(x_i, y_j)

The subset sampling order (one permutation of the real set, then one of the fake set, per subset) and
the population std follow torchmetrics' ``KernelInceptionDistance``, so a seeded generator reproduces it.
"""

from __future__ import annotations

import torch

from genlens.errors import GenlensError
from genlens.metrics.inputs import check_features, check_same_dim


def polynomial_kernel(
    x: torch.Tensor, y: torch.Tensor, *, degree: int = 3, gamma: float | None = None, coef: float = 1.0
) -> torch.Tensor:
    """k(x, y) = (gamma x·y + coef)^degree with gamma = 1/d by default: (N, M)."""
    gamma = 1.0 / x.shape[1] if gamma is None else gamma
    return (x @ y.T * gamma + coef) ** degree


def mmd2_unbiased(k_xx: torch.Tensor, k_xy: torch.Tensor, k_yy: torch.Tensor) -> torch.Tensor:
    """Unbiased MMD² from kernel matrices of two equal-size samples (Gretton et al. 2012, eq. 3)."""
    m = k_xx.shape[0]
    within = (k_xx.sum() - k_xx.diagonal().sum() + k_yy.sum() - k_yy.diagonal().sum()) / (m * (m - 1))
    return within - 2 * k_xy.sum() / (m * m)


def kid_from_features(
    real: torch.Tensor,
    fake: torch.Tensor,
    *,
    subsets: int = 100,
    subset_size: int = 1000,
    degree: int = 3,
    gamma: float | None = None,
    coef: float = 1.0,
    generator: torch.Generator | None = None,
) -> tuple[float, float]:
    """(mean, std) of MMD² over ``subsets`` random subsets; ``subset_size`` is clamped to the smaller set.

    ``generator`` (CPU) draws the subsets; None means a fixed seed 0 so results are repeatable.
    """
    if subsets < 1 or subset_size < 2:
        raise GenlensError(f"KID needs subsets >= 1 and subset_size >= 2; got {subsets} and {subset_size}")
    x = check_features(real, what="real features")  # (Nr, D) float64
    y = check_features(fake, what="fake features")  # (Nf, D) float64
    check_same_dim(x, y)
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    m = min(subset_size, x.shape[0], y.shape[0])
    kw = {"degree": degree, "gamma": gamma, "coef": coef}
    scores = torch.empty(subsets, dtype=torch.float64)
    for s in range(subsets):
        xs = x[torch.randperm(x.shape[0], generator=g)[:m].to(x.device)]  # (m, D)
        ys = y[torch.randperm(y.shape[0], generator=g)[:m].to(y.device)]  # (m, D)
        scores[s] = mmd2_unbiased(
            polynomial_kernel(xs, xs, **kw), polynomial_kernel(xs, ys, **kw), polynomial_kernel(ys, ys, **kw)
        )
    return float(scores.mean()), float(scores.std(unbiased=False))
