"""95 % intervals for reported numbers, and the three words a target gets: met, at the bar, missed.

Two kinds of interval (issue 30, "pre-registered evaluation"):

* **bootstrap over units** (images, prompts): resample the N per-unit values with replacement B times and
  take the 2.5 / 97.5 percentiles of the statistic (percentile bootstrap, Efron & Tibshirani 1993, ch. 13);
  all B resamples are drawn at once as a (B, N) index matrix from a seeded ``torch.Generator``.
* **mean over seeds**: x̄ ± t_{1-α/2, n-1} · s / √n with the sample standard deviation s (Student's t),
  for n >= 3 independent training or sampling seeds.

A target is *met* when the whole interval is on the good side of it, *at the bar* when the interval
contains it (endpoints included), *missed* when the whole interval is on the bad side.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch

from genlens.errors import GenlensError
from genlens.utils import config_io

Verdict = Literal["met", "at the bar", "missed"]
MIN_SEEDS = 3


@dataclass(frozen=True)
class Interval:
    """A point estimate with its interval, the confidence level, the method and the number of units."""

    estimate: float
    low: float
    high: float
    level: float
    method: str  # "bootstrap-percentile" | "t over seeds"
    n: int

    def to_dict(self) -> dict[str, Any]:
        return config_io.to_dict(self)

    def __str__(self) -> str:
        return f"{self.estimate:.4g} [{self.low:.4g}, {self.high:.4g}]"


def _check_level(level: float) -> None:
    if not 0 < level < 1:
        raise GenlensError(f"level must be in (0, 1), e.g. 0.95; got {level}")


def _as_values(values: torch.Tensor | Sequence[float], *, what: str, min_n: int) -> torch.Tensor:
    v = torch.as_tensor(values, dtype=torch.float64).detach().cpu()
    if v.ndim != 1 or v.shape[0] < min_n:
        raise GenlensError(f"{what} must be a 1-d sequence of at least {min_n} values; got shape {tuple(v.shape)}")
    if not torch.isfinite(v).all():
        raise GenlensError(f"{what} contains NaN or inf; drop or fix those units")
    return v


def _mean_rows(resampled: torch.Tensor) -> torch.Tensor:
    return resampled.mean(dim=1)


def bootstrap_interval(
    values: torch.Tensor | Sequence[float],
    *,
    statistic: Callable[[torch.Tensor], torch.Tensor] = _mean_rows,
    resamples: int = 10_000,
    level: float = 0.95,
    generator: torch.Generator | None = None,
) -> Interval:
    """Percentile-bootstrap interval of ``statistic`` over N per-unit ``values`` (one value per image/prompt).

    ``statistic`` maps a (B, N) matrix of resampled values to (B,) statistics (default: the row mean) and
    gives the point estimate on the original (1, N) values. ``generator`` (CPU) draws the resamples;
    None means seed 0, so a result file can be regenerated exactly.
    """
    v = _as_values(values, what="bootstrap values", min_n=2)
    _check_level(level)
    if resamples < 100:
        raise GenlensError(f"resamples must be >= 100 for a {level:.0%} interval; got {resamples}")
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    n = v.shape[0]
    idx = torch.randint(0, n, (resamples, n), generator=g)  # (B, N) units drawn with replacement
    stats = statistic(v[idx])  # (B,)
    alpha = (1 - level) / 2
    low, high = torch.quantile(stats, torch.tensor([alpha, 1 - alpha], dtype=torch.float64)).tolist()
    estimate = float(statistic(v[None, :])[0])
    return Interval(estimate=estimate, low=low, high=high, level=level, method="bootstrap-percentile", n=n)


def seed_interval(values: torch.Tensor | Sequence[float], *, level: float = 0.95) -> Interval:
    """Student-t interval of the mean of per-seed results: x̄ ± t_{(1+level)/2, n-1} s/√n, n >= 3 seeds."""
    from scipy.stats import t as student_t

    v = _as_values(values, what="per-seed values", min_n=MIN_SEEDS)
    _check_level(level)
    n = v.shape[0]
    mean = float(v.mean())
    half = float(student_t.ppf((1 + level) / 2, df=n - 1)) * float(v.std(unbiased=True)) / n**0.5
    return Interval(estimate=mean, low=mean - half, high=mean + half, level=level, method="t over seeds", n=n)


def verdict(interval: Interval, target: float, *, higher_is_better: bool) -> Verdict:
    """"met" if the interval clears ``target`` on the good side, "at the bar" if it contains it, else "missed"."""
    if interval.low > interval.high:
        raise GenlensError(f"interval low {interval.low} is above high {interval.high}; build it with this module")
    if interval.low <= target <= interval.high:
        return "at the bar"
    clears = interval.low > target if higher_is_better else interval.high < target
    return "met" if clears else "missed"
