"""Per-class bootstrap intervals on constructed cases, and the too-few-samples refusal."""
from __future__ import annotations

import pytest
import torch

from genlens.audit.classes import MIN_PER_CLASS, compare_classes
from genlens.errors import GenlensError

NAMES = ("a", "b", "c")


def _labels(n: int) -> torch.Tensor:
    return torch.arange(3).repeat_interleave(n)


def test_intervals_on_a_constructed_case():
    n = 400
    labels = _labels(n)
    a = torch.ones(3 * n, dtype=torch.bool)  # A right everywhere
    b = a.clone()
    b[labels == 1] = torch.arange(n) % 2 == 0  # B right on half of class b
    b[labels == 2] = torch.arange(n) % 50 != 0  # and on 98 % of class c (8 errors)
    cmp = compare_classes(a, b, labels, NAMES, n_boot=2000, seed=0)
    assert cmp.acc_a.tolist() == [1.0, 1.0, 1.0]
    assert cmp.ci_a.tolist() == [[1.0, 1.0]] * 3  # no variation to resample
    assert cmp.acc_b[1] == 0.5
    lo, hi = cmp.ci_b[1].tolist()
    half = 1.96 * (0.25 / n) ** 0.5  # normal approximation of the binomial interval: +-0.049
    assert lo < 0.5 < hi
    assert abs((hi - lo) / 2 - half) < 0.015
    # class c: a resample without any of the 8 errors has probability 0.98^400 = 3e-4, far below 2.5 %
    assert cmp.losers == [1, 2]
    assert cmp.gainers == []


def test_paired_difference_is_zero_for_identical_models():
    labels = _labels(50)
    a = torch.rand(150, generator=torch.Generator().manual_seed(0)) > 0.3
    cmp = compare_classes(a, a.clone(), labels, NAMES, n_boot=200)
    assert cmp.ci_diff.abs().max() == 0  # same resampled images for both: the difference never moves
    assert cmp.losers == []


def test_too_few_samples_says_how_many():
    labels = _labels(MIN_PER_CLASS - 1)
    a = torch.ones_like(labels, dtype=torch.bool)
    with pytest.raises(GenlensError, match=f"needs at least {MIN_PER_CLASS} per class"):
        compare_classes(a, a, labels, NAMES)
    with pytest.raises(GenlensError, match="resamples are too few"):
        compare_classes(a, a, _labels(20), NAMES, n_boot=10)
