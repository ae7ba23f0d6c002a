import pytest
import torch
from torchmetrics.image.kid import KernelInceptionDistance

from genlens.errors import GenlensError
from genlens.metrics import kid_from_features


def feats(n: int, d: int = 16, *, shift: float = 0.0, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) + shift


@pytest.mark.filterwarnings("ignore:Metric `Kernel Inception Distance` will save all")
def test_matches_torchmetrics_with_same_subsets(given_features: type) -> None:
    real, fake = feats(120, seed=1), feats(150, shift=0.3, seed=2)
    tm = KernelInceptionDistance(feature=given_features(16), subsets=7, subset_size=50)
    tm.update(real, real=True)
    tm.update(fake, real=False)
    torch.manual_seed(5)  # torchmetrics draws subsets from the global generator, in the same order as we do
    tm_mean, tm_std = tm.compute()
    mean, std = kid_from_features(
        real, fake, subsets=7, subset_size=50, generator=torch.Generator().manual_seed(5)
    )
    assert mean == pytest.approx(float(tm_mean), rel=1e-9)
    assert std == pytest.approx(float(tm_std), rel=1e-9)


def test_same_distribution_is_near_zero_and_shift_is_positive() -> None:
    same, _ = kid_from_features(feats(300, seed=1), feats(300, seed=2), subsets=20, subset_size=100)
    shifted, _ = kid_from_features(
        feats(300, seed=1), feats(300, shift=0.5, seed=2), subsets=20, subset_size=100
    )
    assert abs(same) < 0.02
    assert shifted > 0.1 and shifted > 10 * abs(same)


def test_subset_size_is_clamped_and_seeded_runs_repeat() -> None:
    a, b = feats(30, seed=1), feats(20, seed=2)
    r1 = kid_from_features(a, b, subsets=5, subset_size=1000, generator=torch.Generator().manual_seed(3))
    r2 = kid_from_features(a, b, subsets=5, subset_size=1000, generator=torch.Generator().manual_seed(3))
    assert r1 == r2
    assert kid_from_features(a, b, subsets=3) == kid_from_features(a, b, subsets=3)  # default: fixed seed


@pytest.mark.parametrize(
    ("kw", "msg"),
    [
        ({"real": feats(1), "fake": feats(10)}, "at least 2"),
        ({"real": feats(10, d=4), "fake": feats(10)}, "feature sizes differ"),
        ({"real": feats(10), "fake": feats(10), "subsets": 0}, "subsets >= 1"),
    ],
)
def test_bad_inputs(kw: dict, msg: str) -> None:
    with pytest.raises(GenlensError, match=msg):
        kid_from_features(**kw)
