import numpy as np
import pytest
import scipy.linalg
import torch
from torchmetrics.image.fid import FrechetInceptionDistance

from genlens.errors import GenlensError
from genlens.metrics import FeatureStats, fid_from_features, fid_from_stats, frechet_distance


def exact_gaussian_sample(n: int, mean: torch.Tensor, cov: torch.Tensor, seed: int) -> torch.Tensor:
    """n points whose sample mean and unbiased sample covariance are exactly ``mean`` and ``cov``."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, mean.shape[0], generator=g, dtype=torch.float64)
    z = z - z.mean(0)
    w = torch.linalg.cholesky(z.T @ z / (n - 1))
    z = torch.linalg.solve_triangular(w, z.T, upper=False).T  # sample cov = I
    return z @ torch.linalg.cholesky(cov).T + mean


def random_spd(d: int, seed: int) -> torch.Tensor:
    a = torch.randn(d, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return a @ a.T / d + 0.1 * torch.eye(d, dtype=torch.float64)


def test_identical_sets_give_zero() -> None:
    x = torch.randn(200, 32, generator=torch.Generator().manual_seed(0))
    assert fid_from_features(x, x.clone()) == pytest.approx(0.0, abs=1e-6)


def test_diagonal_gaussians_match_closed_form() -> None:
    # commuting covariances: FID = ||mu1 - mu2||^2 + sum_i (s1_i - s2_i)^2 with s = standard deviations
    mu1, mu2 = torch.tensor([0.0, 1.0, -2.0]), torch.tensor([1.0, 1.0, 0.0])
    var1, var2 = torch.tensor([1.0, 4.0, 0.25]), torch.tensor([4.0, 1.0, 0.25])
    expected = 1.0 + 4.0 + (1 - 2) ** 2 + (2 - 1) ** 2 + 0.0
    assert frechet_distance(mu1=mu1, cov1=torch.diag(var1), mu2=mu2, cov2=torch.diag(var2)) == pytest.approx(
        expected, rel=1e-12
    )


def test_samples_with_known_moments_match_scipy_closed_form() -> None:
    d = 6
    mu1, mu2 = torch.zeros(d, dtype=torch.float64), torch.linspace(-1, 1, d, dtype=torch.float64)
    c1, c2 = random_spd(d, 1), random_spd(d, 2)  # non-commuting
    x, y = exact_gaussian_sample(300, mu1, c1, 3), exact_gaussian_sample(400, mu2, c2, 4)
    covmean = scipy.linalg.sqrtm(c1.numpy() @ c2.numpy()).real
    closed = float((mu1 - mu2).square().sum()) + float(np.trace(c1.numpy() + c2.numpy() - 2 * covmean))
    assert fid_from_features(x, y) == pytest.approx(closed, rel=1e-9)


def test_matches_torchmetrics_on_same_features(given_features: type) -> None:
    g = torch.Generator().manual_seed(0)
    real = torch.randn(256, 24, generator=g, dtype=torch.float64)
    fake = 0.8 * torch.randn(300, 24, generator=g, dtype=torch.float64) + 0.3
    tm = FrechetInceptionDistance(feature=given_features(24))
    tm.update(real, real=True)
    tm.update(fake, real=False)
    assert fid_from_features(real, fake) == pytest.approx(float(tm.compute()), rel=1e-6)


def test_rank_deficient_covariance_is_finite() -> None:
    # fewer samples than dimensions: singular covariances, where sqrtm can go complex
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(10, 64, generator=g), torch.randn(12, 64, generator=g)
    v = fid_from_features(x, y)
    assert np.isfinite(v) and v > 0


def test_stats_round_trip_and_extractor_check() -> None:
    x = torch.randn(50, 8, generator=torch.Generator().manual_seed(2))
    s = FeatureStats.from_features(x, extractor="a")
    back = FeatureStats.from_state_dict(s.state_dict(), extractor="a")
    assert back.n == 50 and back.dim == 8 and torch.equal(back.cov, s.cov)
    assert fid_from_features(s, x) == pytest.approx(0.0, abs=1e-8)
    with pytest.raises(GenlensError, match="different extractors"):
        fid_from_stats(s, FeatureStats.from_features(x, extractor="b"))


@pytest.mark.parametrize(
    ("real", "fake", "msg"),
    [
        (torch.randn(1, 4), torch.randn(5, 4), "at least 2"),
        (torch.randn(0, 4), torch.randn(5, 4), "at least 2"),
        (torch.randn(5, 4), torch.randn(5, 3), "feature sizes differ"),
        (torch.randn(5), torch.randn(5, 4), r"\(N, D\)"),
        (torch.full((5, 4), float("nan")), torch.randn(5, 4), "NaN"),
    ],
)
def test_bad_inputs_give_one_line_errors(real: torch.Tensor, fake: torch.Tensor, msg: str) -> None:
    with pytest.raises(GenlensError, match=msg) as err:
        fid_from_features(real, fake)
    assert "\n" not in str(err.value)
