"""Intervals and verdicts: Student-t golden values, the bootstrap's known binomial limit, the three words."""
from __future__ import annotations

import pytest
import torch

from genlens.errors import GenlensError
from genlens.metrics.intervals import Interval, bootstrap_interval, seed_interval, verdict

T975 = {2: 4.3026527297, 3: 3.1824463053}  # Student t 0.975 quantiles, df = 2, 3 (printed tables, 10 digits)


def test_seed_interval_golden_three_seeds() -> None:
    iv = seed_interval([1.0, 2.0, 3.0])  # mean 2, s = 1
    half = T975[2] / 3**0.5
    assert (iv.estimate, iv.low, iv.high) == pytest.approx((2.0, 2 - half, 2 + half), rel=1e-10)
    assert (iv.n, iv.level, iv.method) == (3, 0.95, "t over seeds")


def test_seed_interval_golden_four_seeds() -> None:
    iv = seed_interval(torch.tensor([0.90, 0.92, 0.94, 0.96], dtype=torch.float64))  # mean 0.93, s = sqrt(0.002 / 3)
    half = T975[3] * (0.002 / 3) ** 0.5 / 2
    assert (iv.low, iv.high) == pytest.approx((0.93 - half, 0.93 + half), rel=1e-10)


def test_seed_interval_needs_three_seeds() -> None:
    with pytest.raises(GenlensError, match="at least 3 values"):
        seed_interval([0.5, 0.6])


def test_bootstrap_of_constants_is_a_point() -> None:
    iv = bootstrap_interval([0.7] * 20, resamples=200)
    assert (iv.estimate, iv.low, iv.high) == pytest.approx((0.7, 0.7, 0.7))


def test_bootstrap_of_a_proportion_matches_the_binomial() -> None:
    # 50 ones and 50 zeros: a resampled mean is Binomial(100, 1/2) / 100, whose 2.5 % / 97.5 % quantiles
    # are 0.40 and 0.60; 20,000 resamples land within one step (0.01) of them
    values = torch.tensor([1.0, 0.0] * 50)
    iv = bootstrap_interval(values, resamples=20_000, generator=torch.Generator().manual_seed(3))
    assert iv.estimate == 0.5 and iv.method == "bootstrap-percentile" and iv.n == 100
    assert iv.low == pytest.approx(0.40, abs=0.01) and iv.high == pytest.approx(0.60, abs=0.01)


def test_bootstrap_is_seeded_and_takes_a_statistic() -> None:
    values = torch.arange(30, dtype=torch.float64)
    a = bootstrap_interval(values, resamples=500, generator=torch.Generator().manual_seed(1))
    b = bootstrap_interval(values, resamples=500, generator=torch.Generator().manual_seed(1))
    c = bootstrap_interval(values, resamples=500, generator=torch.Generator().manual_seed(2))
    assert a == b and (a.low, a.high) != (c.low, c.high) and a.estimate == c.estimate == 14.5
    med = bootstrap_interval(values, statistic=lambda m: m.median(dim=1).values, resamples=500)
    assert med.estimate == 14.0 and med.low <= 14.0 <= med.high


@pytest.mark.parametrize(
    ("low", "high", "target", "higher", "word"),
    [
        (0.91, 0.95, 0.90, True, "met"),  # accuracy above its bar
        (0.88, 0.92, 0.90, True, "at the bar"),
        (0.90, 0.92, 0.90, True, "at the bar"),  # touching the bar does not clear it
        (0.80, 0.85, 0.90, True, "missed"),
        (0.15, 0.18, 0.19, False, "met"),  # an FID under its bar
        (0.18, 0.20, 0.19, False, "at the bar"),
        (0.20, 0.25, 0.19, False, "missed"),
    ],
)
def test_verdict_golden(low, high, target, higher, word) -> None:
    iv = Interval(estimate=(low + high) / 2, low=low, high=high, level=0.95, method="t over seeds", n=3)
    assert verdict(iv, target, higher_is_better=higher) == word


def test_bad_input_is_one_line() -> None:
    with pytest.raises(GenlensError, match="level must be in"):
        seed_interval([1, 2, 3], level=95)
    with pytest.raises(GenlensError, match="NaN or inf"):
        bootstrap_interval([1.0, float("nan")])
    with pytest.raises(GenlensError, match="resamples must be >= 100"):
        bootstrap_interval([1.0, 2.0], resamples=10)
