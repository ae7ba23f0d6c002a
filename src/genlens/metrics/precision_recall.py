"""Improved precision and recall (Kynkäänniemi et al., NeurIPS 2019, arXiv 1904.06991), from features.

Each set approximates its manifold by the union of hyperspheres around its samples, the radius of
sample phi being the distance to its k-th nearest neighbour within the same set (section 3, eq. 2):

    f(phi, Phi) = 1  if ||phi - phi'|| <= ||phi' - NN_k(phi', Phi)||  for some phi' in Phi, else 0

    precision = 1/|Phi_g| sum_{phi_g} f(phi_g, Phi_r)      (fakes inside the real manifold: fidelity)
    recall    = 1/|Phi_r| sum_{phi_r} f(phi_r, Phi_g)      (reals inside the fake manifold: coverage)

with k = 3 (the paper's choice). Distances are computed in row chunks of ``batch_size`` against the whole
other set, so memory is O(batch_size x N) rather than O(N^2): 10k x 10k features run in bounded memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from genlens.errors import GenlensError
from genlens.metrics.inputs import check_features, check_same_dim
from genlens.utils import config_io


@dataclass(frozen=True)
class PrecisionRecall:
    """Improved precision and recall of a fake set against a real set, with how they were measured."""

    precision: float
    recall: float
    k: int
    extractor: str | None
    n_real: int
    n_fake: int

    def to_dict(self) -> dict[str, Any]:
        return config_io.to_dict(self)


def _sq_dists(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances (n, m) between rows of a (n, D) and b (m, D), float64, >= 0."""
    d = a.square().sum(1)[:, None] + b.square().sum(1)[None, :] - 2 * a @ b.T
    return d.clamp_min_(0)


def _check_batch_size(batch_size: int) -> None:
    if batch_size < 1:
        raise GenlensError(f"batch_size must be >= 1; got {batch_size}")


def knn_radii(features: torch.Tensor, *, k: int = 3, batch_size: int = 1000) -> torch.Tensor:
    """(N,) distance from each row to its k-th nearest other row of the same set (the ball radii)."""
    x = check_features(features, what="features", min_n=k + 1)  # (N, D) float64
    _check_batch_size(batch_size)
    if k < 1:
        raise GenlensError(f"k must be >= 1; got {k}")
    radii = torch.empty(x.shape[0], dtype=torch.float64, device=x.device)
    for i in range(0, x.shape[0], batch_size):
        d = _sq_dists(x[i : i + batch_size], x)  # (b, N)
        rows = torch.arange(d.shape[0], device=x.device)
        d[rows, rows + i] = 0.0  # a point's distance to itself is exactly 0, not a rounding residue
        # the (k+1)-th smallest: the point itself is its own nearest neighbour at distance 0
        radii[i : i + batch_size] = d.kthvalue(k + 1, dim=1).values.sqrt()
    return radii


def inside_manifold(
    query: torch.Tensor, support: torch.Tensor, radii: torch.Tensor, *, batch_size: int = 1000
) -> torch.Tensor:
    """(Nq,) bool: query row lies in some support row's ball, ||q - s_j|| <= radii_j (the paper's f)."""
    q = check_features(query, what="query features", min_n=1)
    s = check_features(support, what="support features", min_n=1)
    check_same_dim(q, s)
    _check_batch_size(batch_size)
    if radii.shape != (s.shape[0],):
        raise GenlensError(f"radii must have one entry per support row ({s.shape[0]}); got {tuple(radii.shape)}")
    r2 = radii.to(torch.float64).square()[None, :]  # (1, Ns): compare squared distances
    out = torch.empty(q.shape[0], dtype=torch.bool, device=q.device)
    for i in range(0, q.shape[0], batch_size):
        out[i : i + batch_size] = (_sq_dists(q[i : i + batch_size], s) <= r2).any(dim=1)
    return out


def precision_recall_flags(
    real: torch.Tensor, fake: torch.Tensor, *, k: int = 3, batch_size: int = 1000
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample indicators: (fake in real manifold (Nf,), real in fake manifold (Nr,)).

    Their means are precision and recall; the flags are the per-unit statistic to bootstrap over.
    """
    r = check_features(real, what="real features", min_n=k + 1)
    f = check_features(fake, what="fake features", min_n=k + 1)
    check_same_dim(r, f)
    kw = {"k": k, "batch_size": batch_size}
    fake_in = inside_manifold(f, r, knn_radii(r, **kw), batch_size=batch_size)
    real_in = inside_manifold(r, f, knn_radii(f, **kw), batch_size=batch_size)
    return fake_in, real_in


def precision_recall(
    real: torch.Tensor,
    fake: torch.Tensor,
    *,
    k: int = 3,
    batch_size: int = 1000,
    extractor: str | None = None,
) -> PrecisionRecall:
    """Improved precision and recall of ``fake`` (Nf, D) against ``real`` (Nr, D) features."""
    fake_in, real_in = precision_recall_flags(real, fake, k=k, batch_size=batch_size)
    return PrecisionRecall(
        precision=float(fake_in.double().mean()),
        recall=float(real_in.double().mean()),
        k=k,
        extractor=extractor,
        n_real=int(real_in.shape[0]),
        n_fake=int(fake_in.shape[0]),
    )
