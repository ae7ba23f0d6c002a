"""Fréchet distance between Gaussian fits of two feature sets (FID: Heusel et al., NeurIPS 2017).

    FID = ||mu_r - mu_f||^2 + Tr(S_r + S_f - 2 (S_r S_f)^(1/2))          (Heusel et al. 2017, eq. 6)

Everything runs in float64. The trace of the matrix square root is computed from a symmetric
eigenproblem: with A = S_r^(1/2) (from ``eigh``, PSD by construction), S_r S_f is similar to
A S_f A, which is symmetric PSD, so Tr (S_r S_f)^(1/2) = sum_i sqrt(lambda_i(A S_f A)). This avoids the
complex parts and the occasional blow-up of ``scipy.linalg.sqrtm`` on near-singular covariances.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from genlens.errors import GenlensError
from genlens.metrics.inputs import check_features


@dataclass(frozen=True)
class FeatureStats:
    """Mean (D,), unbiased covariance (D, D) in float64, sample count, and the extractor that made them.

    Compute once for a reference set (e.g. the Fashion-MNIST test split) and reuse; ``state_dict()``
    holds only tensors so it saves with ``safetensors``.
    """

    mean: torch.Tensor
    cov: torch.Tensor
    n: int
    extractor: str | None = None

    @classmethod
    def from_features(cls, features: torch.Tensor, *, extractor: str | None = None) -> FeatureStats:
        f = check_features(features, what="features")  # (N, D) float64
        mean = f.mean(dim=0)
        centred = f - mean
        cov = centred.T @ centred / (f.shape[0] - 1)  # unbiased, as torchmetrics and pytorch-fid
        return cls(mean=mean, cov=cov, n=int(f.shape[0]), extractor=extractor)

    @property
    def dim(self) -> int:
        return int(self.mean.shape[0])

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"mean": self.mean.cpu(), "cov": self.cov.cpu(), "n": torch.tensor(self.n)}

    @classmethod
    def from_state_dict(cls, state: dict[str, torch.Tensor], *, extractor: str | None = None) -> FeatureStats:
        return cls(
            mean=state["mean"].to(torch.float64),
            cov=state["cov"].to(torch.float64),
            n=int(state["n"]),
            extractor=extractor,
        )


def _sqrtm_psd(s: torch.Tensor) -> torch.Tensor:
    """Symmetric square root of a PSD matrix via ``eigh``; tiny negative eigenvalues are rounding -> 0."""
    vals, vecs = torch.linalg.eigh((s + s.T) / 2)
    return (vecs * vals.clamp_min(0).sqrt()) @ vecs.T


def trace_sqrt_product(s1: torch.Tensor, s2: torch.Tensor) -> torch.Tensor:
    """Tr (s1 s2)^(1/2) for PSD s1, s2 (see module docstring)."""
    a = _sqrtm_psd(s1)
    m = a @ s2 @ a
    return torch.linalg.eigvalsh((m + m.T) / 2).clamp_min(0).sqrt().sum()


def frechet_distance(
    *, mu1: torch.Tensor, cov1: torch.Tensor, mu2: torch.Tensor, cov2: torch.Tensor
) -> float:
    """Squared Fréchet (2-Wasserstein) distance between N(mu1, cov1) and N(mu2, cov2)."""
    mu1, mu2, cov1, cov2 = (t.to(torch.float64) for t in (mu1, mu2, cov1, cov2))
    if mu1.shape != mu2.shape or cov1.shape != cov2.shape:
        raise GenlensError(
            f"feature sizes differ ({mu1.shape[0]} vs {mu2.shape[0]}); compute both with the same extractor"
        )
    diff = (mu1 - mu2).square().sum()
    tr = cov1.trace() + cov2.trace() - 2 * trace_sqrt_product(cov1, cov2)
    return float((diff + tr).clamp_min(0))  # negative only through rounding


def fid_from_stats(real: FeatureStats, fake: FeatureStats) -> float:
    if real.extractor and fake.extractor and real.extractor != fake.extractor:
        raise GenlensError(
            f"statistics come from different extractors ('{real.extractor}' vs '{fake.extractor}'); "
            "recompute one of them with the other's extractor"
        )
    return frechet_distance(mu1=real.mean, cov1=real.cov, mu2=fake.mean, cov2=fake.cov)


def fid_from_features(real: torch.Tensor | FeatureStats, fake: torch.Tensor | FeatureStats) -> float:
    """FID between two (N, D) feature tensors (or precomputed :class:`FeatureStats`)."""
    r = (
        real
        if isinstance(real, FeatureStats)
        else FeatureStats.from_features(check_features(real, what="real features"))
    )
    f = (
        fake
        if isinstance(fake, FeatureStats)
        else FeatureStats.from_features(check_features(fake, what="fake features"))
    )
    return fid_from_stats(r, f)
